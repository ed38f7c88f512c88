//! One module per Kafka API; `dispatch` routes a decoded request to its handler.
