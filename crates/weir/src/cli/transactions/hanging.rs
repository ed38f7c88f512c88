//! `weir transactions find-hanging`: open transactions on a broker's partitions that their
//! coordinator no longer knows about (Kafka's `FindHangingTransactions`). A partition's open
//! transaction is a candidate once its producer wrote nothing for longer than the largest
//! transaction timeout; it is hanging unless the coordinator still has a transaction of that
//! producer id in progress that includes the partition.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::describe_producers_response::ProducerState;

use super::cluster::{self, Cluster, PartitionProducers, TopicPartition};
use super::table;
use crate::cli::raw::failed;

/// TRANSACTIONAL_ID_NOT_FOUND: the coordinator has no such transactional id (any more).
const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;

/// Headers of the table, as Kafka's tool prints them.
pub const HEADERS: [&str; 8] = [
    "Topic",
    "Partition",
    "ProducerId",
    "ProducerEpoch",
    "CoordinatorEpoch",
    "StartOffset",
    "LastTimestamp",
    "Duration(min)",
];

/// An open transaction found in a partition's producer state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTxn {
    /// Partition.
    pub tp: TopicPartition,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i32,
    /// Epoch of the coordinator that last wrote a marker for this producer (-1: none).
    pub coordinator_epoch: i32,
    /// First offset of the open transaction.
    pub start_offset: i64,
    /// Timestamp of the producer's last write, epoch ms.
    pub last_timestamp: i64,
}

/// What the coordinator says about a transactional id (from DescribeTransactions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorView {
    /// Current producer id.
    pub producer_id: i64,
    /// State name (`Ongoing`, `PrepareCommit`, …).
    pub state: String,
    /// Partitions of the transaction in progress.
    pub partitions: BTreeSet<TopicPartition>,
}

/// Open transactions in `answers` whose producer's last write is more than `max_timeout_ms`
/// before `now_ms` (producers without an open transaction, `current_txn_start_offset == -1`,
/// are skipped).
pub fn candidates(
    answers: &[PartitionProducers],
    now_ms: i64,
    max_timeout_ms: i64,
) -> Vec<OpenTxn> {
    let mut out = Vec::new();
    for (tp, r) in answers {
        let Ok(producers) = r else { continue };
        for p in producers {
            if let Some(t) = open_txn(tp, p).filter(|t| now_ms - t.last_timestamp > max_timeout_ms)
            {
                out.push(t);
            }
        }
    }
    out
}

fn open_txn(tp: &TopicPartition, p: &ProducerState) -> Option<OpenTxn> {
    (p.current_txn_start_offset >= 0).then(|| OpenTxn {
        tp: tp.clone(),
        producer_id: p.producer_id.0,
        producer_epoch: p.producer_epoch,
        coordinator_epoch: p.coordinator_epoch,
        start_offset: p.current_txn_start_offset,
        last_timestamp: p.last_timestamp,
    })
}

/// The candidates that are hanging: no transactional id lists their producer id, the
/// coordinator does not know that id, or its transaction in progress (Ongoing, or markers still
/// to write) belongs to another producer id or does not include the partition.
/// `transactional_ids` maps producer id → transactional id (ListTransactions);
/// `views` maps transactional id → the coordinator's view (None: TRANSACTIONAL_ID_NOT_FOUND).
pub fn hanging(
    candidates: &[OpenTxn],
    transactional_ids: &HashMap<i64, String>,
    views: &HashMap<String, Option<CoordinatorView>>,
) -> Vec<OpenTxn> {
    candidates
        .iter()
        .filter(|t| {
            let view = transactional_ids
                .get(&t.producer_id)
                .and_then(|id| views.get(id))
                .and_then(Option::as_ref);
            !view.is_some_and(|v| {
                v.producer_id == t.producer_id
                    && in_progress(&v.state)
                    && v.partitions.contains(&t.tp)
            })
        })
        .cloned()
        .collect()
}

/// States in which the coordinator still owns the transaction's partitions (it will write
/// their markers).
fn in_progress(state: &str) -> bool {
    matches!(
        state,
        "Ongoing" | "PrepareCommit" | "PrepareAbort" | "PrepareEpochFence"
    )
}

/// Table rows for `txns` at `now_ms`.
pub fn rows(txns: &[OpenTxn], now_ms: i64) -> Vec<Vec<String>> {
    txns.iter()
        .map(|t| {
            vec![
                t.tp.0.clone(),
                t.tp.1.to_string(),
                t.producer_id.to_string(),
                t.producer_epoch.to_string(),
                t.coordinator_epoch.to_string(),
                t.start_offset.to_string(),
                t.last_timestamp.to_string(),
                ((now_ms - t.last_timestamp) / 60_000).to_string(),
            ]
        })
        .collect()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Run `find-hanging` on the partitions with a replica on `broker_id` (DescribeProducers to
/// that broker), or on `topic` (optionally one `partition`; DescribeProducers to each leader).
pub fn run(
    bootstrap: &str,
    broker_id: Option<i32>,
    topic: Option<&str>,
    partition: Option<i32>,
    max_timeout_minutes: i64,
) -> Result<(), String> {
    if broker_id.is_none() && topic.is_none() {
        return Err("find-hanging needs --broker-id or --topic to limit the search".into());
    }
    if partition.is_some() && topic.is_none() {
        return Err("--partition needs --topic".into());
    }
    let cluster = Cluster::fetch(bootstrap)?;
    // Broker to ask → its partitions.
    let mut targets: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
    for p in &cluster.partitions {
        if topic.is_some_and(|t| t != p.tp.0) || partition.is_some_and(|x| x != p.tp.1) {
            continue;
        }
        match broker_id {
            Some(b) if p.replicas.contains(&b) || p.leader == b => {
                targets.entry(b).or_default().push(p.tp.clone())
            }
            Some(_) => {}
            None => targets.entry(p.leader).or_default().push(p.tp.clone()),
        }
    }
    if topic.is_some() && targets.is_empty() {
        return Err(format!(
            "no partition of {} matches in the cluster's metadata",
            topic.unwrap_or_default()
        ));
    }
    let mut answers = Vec::new();
    for (b, tps) in &targets {
        for chunk in tps.chunks(500) {
            answers.extend(cluster::describe_producers(cluster.address(*b)?, chunk)?);
        }
    }
    for (_, r) in &answers {
        if let Err(e) = r {
            eprintln!("weir: {e}");
        }
    }
    let now = now_ms();
    let open = candidates(&answers, now, max_timeout_minutes * 60_000);
    let found = if open.is_empty() {
        open
    } else {
        confirm(&cluster, bootstrap, &open)?
    };
    print!("{}", table::render(&HEADERS, &rows(&found, now)));
    Ok(())
}

/// Ask the coordinators about the candidates' producer ids and keep the hanging ones.
fn confirm(cluster: &Cluster, bootstrap: &str, open: &[OpenTxn]) -> Result<Vec<OpenTxn>, String> {
    let pids: Vec<i64> = open
        .iter()
        .map(|t| t.producer_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut ids: HashMap<i64, String> = HashMap::new();
    for address in cluster.brokers.values() {
        for l in cluster::list_transactions(address, &pids)? {
            if pids.contains(&l.producer_id.0) {
                ids.insert(l.producer_id.0, l.transactional_id.0.to_string());
            }
        }
    }
    let mut views: HashMap<String, Option<CoordinatorView>> = HashMap::new();
    for id in ids.values().collect::<BTreeSet<_>>() {
        let (_, address) = cluster::find_coordinator(bootstrap, id)?;
        let s = cluster::describe_transaction(&address, id)?;
        let view = match s.error_code {
            0 => Some(CoordinatorView {
                producer_id: s.producer_id.0,
                state: s.transaction_state.to_string(),
                partitions: s
                    .topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
                    .collect(),
            }),
            TRANSACTIONAL_ID_NOT_FOUND => None,
            code => {
                return Err(failed(
                    &format!("describe transactional id {id}"),
                    code,
                    None,
                ))
            }
        };
        views.insert(id.clone(), view);
    }
    Ok(hanging(open, &ids, &views))
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::ProducerId;

    use super::*;

    fn producer(pid: i64, start: i64, last: i64) -> ProducerState {
        let mut p = ProducerState::default();
        p.producer_id = ProducerId(pid);
        p.producer_epoch = 3;
        p.coordinator_epoch = 7;
        p.last_sequence = 10;
        p.last_timestamp = last;
        p.current_txn_start_offset = start;
        p
    }

    fn tp(t: &str, p: i32) -> TopicPartition {
        (t.to_string(), p)
    }

    const MIN: i64 = 60_000;

    #[test]
    fn candidates_are_open_transactions_older_than_the_max_timeout() {
        let now = 100 * MIN;
        let answers: Vec<PartitionProducers> = vec![
            (
                tp("a", 0),
                Ok(vec![
                    producer(1, 40, now - 20 * MIN), // open and old: candidate
                    producer(2, -1, now - 60 * MIN), // no open transaction
                    producer(3, 41, now - 5 * MIN),  // open but recent
                ]),
            ),
            (tp("a", 1), Err("NOT_LEADER_OR_FOLLOWER (6)".into())),
            (tp("b", 0), Ok(vec![producer(4, 0, now - 15 * MIN - 1)])),
        ];
        let c = candidates(&answers, now, 15 * MIN);
        assert_eq!(
            c.iter()
                .map(|t| (t.tp.clone(), t.producer_id, t.start_offset))
                .collect::<Vec<_>>(),
            vec![(tp("a", 0), 1, 40), (tp("b", 0), 4, 0)]
        );
        assert_eq!(c[0].producer_epoch, 3);
        assert_eq!(c[0].coordinator_epoch, 7);
        // Exactly at the limit is not older than it.
        let at_limit = vec![(tp("c", 0), Ok(vec![producer(5, 0, now - 15 * MIN)]))];
        assert!(candidates(&at_limit, now, 15 * MIN).is_empty());
    }

    #[test]
    fn only_transactions_the_coordinator_does_not_own_are_hanging() {
        let open = |pid: i64, t: &str, p: i32| OpenTxn {
            tp: tp(t, p),
            producer_id: pid,
            producer_epoch: 0,
            coordinator_epoch: 0,
            start_offset: 5,
            last_timestamp: 0,
        };
        let view = |pid: i64, state: &str, parts: &[(&str, i32)]| {
            Some(CoordinatorView {
                producer_id: pid,
                state: state.to_string(),
                partitions: parts.iter().map(|(t, p)| tp(t, *p)).collect(),
            })
        };
        let cands = vec![
            open(1, "a", 0), // ongoing with a-0: alive
            open(1, "a", 1), // ongoing, but a-1 is not in it: hanging
            open(2, "a", 0), // no transactional id lists producer 2: hanging
            open(3, "a", 0), // coordinator: TRANSACTIONAL_ID_NOT_FOUND: hanging
            open(4, "a", 0), // id now belongs to producer 40: hanging
            open(5, "a", 0), // transaction completed: hanging
            open(6, "a", 0), // commit markers still being written: alive
        ];
        let ids: HashMap<i64, String> = [(1, "t1"), (3, "t3"), (4, "t4"), (5, "t5"), (6, "t6")]
            .into_iter()
            .map(|(p, t)| (p, t.to_string()))
            .collect();
        let views: HashMap<String, Option<CoordinatorView>> = [
            ("t1", view(1, "Ongoing", &[("a", 0), ("b", 0)])),
            ("t3", None),
            ("t4", view(40, "Ongoing", &[("a", 0)])),
            ("t5", view(5, "CompleteCommit", &[])),
            ("t6", view(6, "PrepareCommit", &[("a", 0)])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let h = hanging(&cands, &ids, &views);
        assert_eq!(
            h.iter()
                .map(|t| (t.producer_id, t.tp.1))
                .collect::<Vec<_>>(),
            vec![(1, 1), (2, 0), (3, 0), (4, 0), (5, 0)]
        );
    }

    #[test]
    fn rows_show_the_duration_in_whole_minutes() {
        let t = OpenTxn {
            tp: tp("orders", 2),
            producer_id: 1000,
            producer_epoch: 1,
            coordinator_epoch: -1,
            start_offset: 42,
            last_timestamp: 1_000,
        };
        let r = rows(&[t], 1_000 + 90 * MIN + 59_999);
        assert_eq!(
            r[0],
            ["orders", "2", "1000", "1", "-1", "42", "1000", "90"].map(String::from)
        );
    }
}
