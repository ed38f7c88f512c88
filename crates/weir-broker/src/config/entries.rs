//! Config entries as DescribeConfigs(BROKER) reports them.

/// Where a config value came from (Kafka's DescribeConfigs sources).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// Built-in default.
    Default,
    /// Set in the file, the environment or a flag at start-up.
    StaticBroker,
}

/// One broker config as DescribeConfigs(BROKER) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Kafka name.
    pub name: String,
    /// Value.
    pub value: Option<String>,
    /// Source.
    pub source: ConfigSource,
    /// Weir's broker configs are static (read-only at run time).
    pub read_only: bool,
    /// Never true today (no secrets).
    pub sensitive: bool,
}
