//! Subcommands of the `weir` binary.

pub mod admin;
pub mod consume;
pub mod produce;
pub mod serve;
pub mod topics;
