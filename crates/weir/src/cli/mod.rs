//! Subcommands of the `weir` binary.

pub mod serve;
