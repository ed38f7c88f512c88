//! Subcommands of the `weir` binary.

pub mod admin;
pub mod serve;
pub mod topics;
