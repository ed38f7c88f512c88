//! Shared plumbing for the admin subcommands: a Kafka admin client on `-b`, a small runtime to
//! wait for its futures, and one-line errors that name the Kafka error.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// How long an admin request may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// How long a command waits for any answer from the bootstrap broker before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Fail within [`CONNECT_TIMEOUT`], with one line naming the address, when no broker answers a
/// Metadata request at `bootstrap` (otherwise commands would wait out longer operation timeouts
/// and report a bare librdkafka code).
pub fn ensure_reachable(bootstrap: &str) -> Result<(), String> {
    let probe: BaseConsumer = crate::cli::client_security::client_config()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        .create()
        .map_err(|e| format!("cannot create a client for {bootstrap}: {e}"))?;
    probe
        .fetch_metadata(None, CONNECT_TIMEOUT)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "cannot reach a broker at {bootstrap} within {}s (is it running?): {}",
                CONNECT_TIMEOUT.as_secs(),
                client_error("metadata", e)
            )
        })
}

/// An admin client for `bootstrap` (any Kafka-compatible broker).
pub fn client(bootstrap: &str) -> Result<AdminClient<DefaultClientContext>, String> {
    crate::cli::client_security::client_config()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        .create()
        .map_err(|e| format!("cannot create admin client for {bootstrap}: {e}"))
}

/// How much longer than the broker's operation timeout the client waits for the answer (a
/// broker answers at its deadline: the answer must still find the client waiting).
const ANSWER_MARGIN: Duration = Duration::from_secs(5);

/// Admin options with the standard timeouts: the broker gets [`TIMEOUT`] for the operation,
/// the client waits a little longer for its answer.
pub fn options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(TIMEOUT + ANSWER_MARGIN))
        .operation_timeout(Some(TIMEOUT))
}

/// Run a future to completion on a small current-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start runtime: {e}"))?;
    Ok(rt.block_on(f))
}

/// `TOPIC_ALREADY_EXISTS`-style name of a librdkafka error code.
pub fn code_name(code: RDKafkaErrorCode) -> String {
    screaming_snake(&format!("{code:?}"))
}

/// `TopicAlreadyExists` → `TOPIC_ALREADY_EXISTS` (Kafka's spelling of error names).
pub fn screaming_snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// One line naming the Kafka error of a failed operation on `what`.
pub fn failed(what: &str, code: RDKafkaErrorCode) -> String {
    format!("{what}: {} ({code})", code_name(code))
}

/// One line for a client-level error.
pub fn client_error(what: &str, e: KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(code) => failed(what, code),
        None => format!("{what}: {e}"),
    }
}

/// `-b/--bootstrap-server` for a command group (global: accepted before or after the
/// subcommand), flattened into the group's arguments.
#[derive(Debug, clap::Args)]
pub struct Bootstrap {
    /// Bootstrap server(s), `host:port[,host:port…]`.
    #[arg(
        short = 'b',
        long = "bootstrap-server",
        value_name = "BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub server: String,
}
