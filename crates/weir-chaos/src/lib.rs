//! Seeded randomized fault campaigns (issue #18) against a cluster of real `weir serve`
//! processes (combined broker+controller nodes, as the README's local cluster).
//!
//! A campaign starts 3 or 5 nodes, runs a mixed workload (an idempotent acks=all producer on a
//! replicated topic, a consumer group committing offsets, admin operations) while a seeded
//! scheduler injects faults one at a time, then heals everything and checks the result:
//! no acknowledged record lost or duplicated, per-partition order kept, acknowledged group
//! commits never lost or moved backwards, every node on the same metadata, every admin request
//! answered in time, every node registered, and the replicas of the workload topic identical
//! byte for byte.
//!
//! Modules, each using only those listed before it (`scripts/check_module_cycles.py`):
//! [`rng`] (the seeded generator), [`node`] (one `weir serve` process, optionally in its own
//! network namespace and on its own tmpfs), [`net`] (namespaces, the bridge and partitions),
//! [`workload`] (producer, group consumer, admin operations), [`faults`] (fault kinds, how to
//! inject and heal them), [`check`] (the checker), [`txn_check`] (the transactional history
//! and its checker), [`txn_workload`] (transactional producers, READ_COMMITTED consumers, the
//! final read), [`txn_java`] (the same workload run by the Java client), [`summary`] (a
//! campaign's result), [`campaign`] (the runner), [`txn_campaign`] (the runner's body for
//! `--workload txn`).
//!
//! With `--workload txn` the workload is Jepsen's Kafka workload instead: P transactional
//! producers writing unique values to several partitions of several topics (committing most
//! transactions, aborting some), C READ_COMMITTED consumers, a final READ_COMMITTED read, and a
//! checker for lost committed writes, aborted reads, torn transactions, duplicates,
//! non-monotonic reads and consumers that disagree with the final read about an offset. The
//! producers and consumers are librdkafka's (`--client rdkafka`, the default) or the Java
//! client's (`--client java`: the `weir.TxnHistory` program of `tests/java` as a subprocess,
//! KIP-890 transactions), checked alike.
//!
//! The binary under test is the `weir` binary: [`campaign::weir_binary`] takes `WEIR_BIN` or
//! looks for `weir` next to the running executable (`target/<profile>/weir`), so build it first
//! (`cargo build -p weir`).

pub mod campaign;
pub mod check;
pub mod faults;
pub mod net;
pub mod node;
pub mod rng;
pub mod summary;
pub mod txn_campaign;
pub mod txn_check;
pub mod txn_java;
pub mod txn_workload;
pub mod workload;
