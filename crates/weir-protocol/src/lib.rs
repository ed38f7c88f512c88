//! weir-protocol: Kafka wire format (sans-IO).
