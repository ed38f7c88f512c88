//! weir-protocol: the Kafka wire format for Weir, on top of the `kafka-protocol` crate. Sans-IO.
//!
//! * [`frame`] checks a 4-byte size prefix before anything is allocated.
//! * [`request`] decodes a frame into header + typed body, never panicking on hostile input.
//! * [`response`] encodes a typed response into a complete frame.
//! * [`segmented`] keeps large record sets of a response as their own pieces (no copy).
//! * [`client`] is the client side (a broker fetching from a leader): request frames out,
//!   typed responses in, with correlation ids checked.
//! * [`versions`] is the one table of API versions Weir serves (what ApiVersions advertises).

pub mod client;
pub mod error;
pub mod frame;
pub mod placeholder;
pub mod request;
pub mod response;
pub mod segmented;
pub mod versions;

pub use error::ProtocolError;
