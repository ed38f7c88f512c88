//! The `weir` binary: `weir serve` starts a broker, `weir dev-cluster` a local cluster; `weir
//! topics` and the other subcommands are operator tools.

mod cli;

use clap::{Parser, Subcommand};

/// Weir: a Kafka-compatible streaming message broker.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
struct Cli {
    /// Kafka client properties for every connection of the client commands
    /// (`security.protocol`, `sasl.mechanism`, `sasl.username`, `sasl.password`,
    /// `ssl.ca.location`, `ssl.certificate.location`, `ssl.key.location`, …).
    #[arg(long = "command-config", value_name = "FILE", global = true)]
    command_config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a broker. Every Kafka broker config `a.b.c` is also the flag `--a-b-c VALUE`
    /// (booleans take true/false); `--config-file FILE` reads a Kafka properties file; `WEIR_A_B_C`
    /// environment variables override the file; flags override both.
    Serve(cli::serve::ServeArgs),
    /// Write a log dir's meta.properties for a cluster id chosen up front (like
    /// `kafka-storage.sh format`): `weir format --cluster-id ID --node-id N --log-dirs DIR`.
    Format(cli::format::FormatArgs),
    /// Print a fresh cluster id (a Kafka-style uuid) for `weir format`.
    RandomUuid,
    /// Run a local cluster of N combined broker+controller nodes (child `weir serve` processes on
    /// 127.0.0.1, ports BASE, BASE+100, …) until Ctrl-C / SIGTERM; `-- FLAGS` go to every node.
    DevCluster(cli::dev_cluster::DevClusterArgs),
    /// Manage topics on any Kafka-compatible broker (`-b host:port`, default 127.0.0.1:9092).
    Topics(cli::topics::TopicsArgs),
    /// Describe or change topic configs and dynamic broker configs (per broker or cluster-wide).
    Configs(cli::configs::ConfigsArgs),
    /// Delete records below an offset (DeleteRecords).
    Records(cli::records::RecordsArgs),
    /// Produce stdin lines to a topic.
    Produce(cli::produce::ProduceArgs),
    /// Print a topic's messages.
    Consume(cli::consume::ConsumeArgs),
    /// Load generator: `perf produce|consume|e2e` throughput and latency percentiles.
    Perf(cli::perf::PerfArgs),
    /// Consumer groups: list, describe (offsets, lag, members), reset-offsets.
    Groups(cli::groups::GroupsArgs),
    /// Share groups (KIP-932): `share consume --group G --topic T --ack accept|release|reject`.
    Share(cli::share::ShareArgs),
    /// Transactions: list, describe, find-hanging, abort (like `kafka-transactions.sh`).
    Transactions(cli::transactions::TransactionsArgs),
    /// Users: `users scram set|delete|list` manages SCRAM credentials
    /// (AlterUserScramCredentials / DescribeUserScramCredentials).
    Users(cli::users::UsersArgs),
    /// Leader elections: `leaders elect --preferred|--unclean [--topic T [--partition P]]`.
    Leaders(cli::leaders::LeadersArgs),
    /// Log dirs (JBOD): `log-dirs describe [--broker N] [--json]`, `log-dirs move --topic T
    /// --partition P --dir D [--broker N]`.
    LogDirs(cli::log_dirs::LogDirsArgs),
    /// ACLs: list, create, delete (like `kafka-acls.sh`; needs an authorizer on the broker).
    Acls(cli::acls::AclsArgs),
    /// Client quotas: describe, alter (like `kafka-configs.sh` for users / clients / ips).
    Quotas(cli::quotas::QuotasArgs),
    /// Cluster operations: `cluster rolling-restart --restart-command CMD` restarts the nodes
    /// one by one, waiting for ISRs to be full again before the next.
    Cluster(cli::cluster::ClusterArgs),
    /// The metadata quorum (KIP-853): `quorum describe|add-voter|remove-voter` (like
    /// `kafka-metadata-quorum.sh`).
    Quorum(cli::quorum::QuorumArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // Operator commands behave like Unix tools when their output pipe closes (`| head`):
        // exit quietly instead of panicking on EPIPE. The server keeps Rust's ignored SIGPIPE.
        // SAFETY: setting a signal disposition to its default before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if let Err(e) = cli::client_security::load(cli.command_config.as_deref()) {
        eprintln!("weir: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Serve(args) => cli::serve::run(args),
        Command::Format(args) => cli::format::run(args),
        Command::RandomUuid => cli::format::run_random_uuid(),
        Command::DevCluster(args) => cli::dev_cluster::run(args),
        Command::Topics(args) => cli::topics::run(args),
        Command::Configs(args) => cli::configs::run(args),
        Command::Records(args) => cli::records::run(args),
        Command::Produce(args) => cli::produce::run(args),
        Command::Consume(args) => cli::consume::run(args),
        Command::Perf(args) => cli::perf::run(args),
        Command::Groups(args) => cli::groups::run(args),
        Command::Share(args) => cli::share::run(args),
        Command::Transactions(args) => cli::transactions::run(args),
        Command::Users(args) => cli::users::run(args),
        Command::Leaders(args) => cli::leaders::run(args),
        Command::LogDirs(args) => cli::log_dirs::run(args),
        Command::Acls(args) => cli::acls::run(args),
        Command::Quotas(args) => cli::quotas::run(args),
        Command::Cluster(args) => cli::cluster::run(args),
        Command::Quorum(args) => cli::quorum::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weir: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
