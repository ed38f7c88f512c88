//! Subcommands of the `weir` binary.

pub mod admin;
pub mod configs;
pub mod consume;
pub mod groups;
pub mod perf;
pub mod produce;
pub mod records;
pub mod serve;
pub mod topics;
