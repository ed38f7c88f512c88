//! Where `weir perf` sends records: one or more topics (`--topics N`), each with its partitions,
//! and the choice of partition per record (`--partitioner`).

use clap::{Args, ValueEnum};
use rdkafka::client::{Client, ClientContext};
use rdkafka::config::ClientConfig;
use serde_json::{json, Value};

use super::common::{self, CommonArgs};

/// How records are spread over the partitions of the run's topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Partitioner {
    /// Leave the choice to librdkafka (keyless records: its sticky partitioner, which fills one
    /// partition's batch before moving on, `sticky.partitioning.linger.ms`).
    Librdkafka,
    /// Record i goes to the (i mod P)-th partition over all topics of the run: every partition
    /// receives the same share, so with many partitions each batch holds few records.
    RoundRobin,
}

/// `--topics` and `--partitioner`, shared by `perf produce` and `perf e2e`.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Use N topics: `TOPIC` when N is 1, otherwise `TOPIC-0` … `TOPIC-(N-1)` (each created with
    /// --partitions when given); records are spread over all their partitions.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub topics: u32,
    /// How records are spread over the partitions: `round-robin` sends record i to the
    /// (i mod P)-th of all P partitions; `librdkafka` leaves it to the client's default (sticky)
    /// partitioner.
    #[arg(long, value_enum, default_value_t = Partitioner::Librdkafka)]
    pub partitioner: Partitioner,
}

impl TargetArgs {
    /// The topic names of the run for base name `topic`.
    pub fn topic_names(&self, topic: &str) -> Vec<String> {
        if self.topics == 1 {
            vec![topic.to_string()]
        } else {
            (0..self.topics).map(|i| format!("{topic}-{i}")).collect()
        }
    }
}

/// Every (topic index, partition) of the run and a round-robin cursor over them.
#[derive(Debug, Clone)]
pub struct Targets {
    /// Topic names, indexed by the first member of each slot.
    pub topics: Vec<String>,
    /// (topic index, partition id) for every partition of every topic.
    pub slots: Vec<(usize, i32)>,
    partitioner: Partitioner,
}

impl Targets {
    /// Targets over `topics`, where `partitions[i]` lists topic i's partition ids.
    pub fn new(topics: Vec<String>, partitions: &[Vec<i32>], partitioner: Partitioner) -> Targets {
        let slots = partitions
            .iter()
            .enumerate()
            .flat_map(|(t, ps)| ps.iter().map(move |&p| (t, p)))
            .collect();
        Targets {
            topics,
            slots,
            partitioner,
        }
    }

    /// Total number of partitions over all topics.
    pub fn partition_count(&self) -> usize {
        self.slots.len()
    }

    /// Topic and partition (`None`: the client chooses) for the `seq`-th record of the run
    /// (counted over all clients, so that together they still cycle through every partition).
    pub fn pick(&self, seq: u64) -> (&str, Option<i32>) {
        let n = self.slots.len().max(1) as u64;
        let (t, p) = self.slots[(seq % n) as usize];
        match self.partitioner {
            Partitioner::RoundRobin => (&self.topics[t], Some(p)),
            // One topic: the client picks the partition. Several: the topics still take turns.
            Partitioner::Librdkafka => {
                let t = (seq % self.topics.len().max(1) as u64) as usize;
                (&self.topics[t], None)
            }
        }
    }
}

/// The run's topics: created with `partitions` partitions first when given (one CreateTopics
/// request for all), then their partitions read from one metadata request.
pub fn resolve<C: ClientContext>(
    client: &Client<C>,
    common: &CommonArgs,
    args: &TargetArgs,
    partitions: Option<i32>,
) -> Result<Targets, String> {
    let names = args.topic_names(&common.topic);
    if let Some(p) = partitions {
        common::ensure_topics(common, &names, p)?;
    }
    let parts = common::partitions_of(client, common, &names)?;
    Ok(Targets::new(names, &parts, args.partitioner))
}

/// The producer's batching settings as the run used them (`cfg`'s value, else librdkafka's
/// default), so every result states its client batching.
pub fn batching_json(cfg: &ClientConfig, partitioner: Partitioner) -> Value {
    let get = |k: &str, default: &str| cfg.get(k).unwrap_or(default).to_string();
    json!({
        "partitioner": match partitioner {
            Partitioner::Librdkafka => "librdkafka",
            Partitioner::RoundRobin => "round-robin",
        },
        "linger.ms": get("linger.ms", "5"),
        "batch.size": get("batch.size", "1000000"),
        "batch.num.messages": get("batch.num.messages", "10000"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_visits_every_partition_of_every_topic_equally() {
        let args = TargetArgs {
            topics: 2,
            partitioner: Partitioner::RoundRobin,
        };
        let names = args.topic_names("t");
        assert_eq!(names, ["t-0", "t-1"]);
        let t = Targets::new(names, &[vec![0, 1, 2], vec![0, 1]], args.partitioner);
        assert_eq!(t.partition_count(), 5);
        let mut counts = std::collections::HashMap::new();
        for seq in 0..50 {
            let (topic, p) = t.pick(seq);
            *counts.entry((topic.to_string(), p)).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 5);
        assert!(counts.values().all(|&c| c == 10), "{counts:?}");
        assert_eq!(t.pick(0), ("t-0", Some(0)));
        assert_eq!(t.pick(3), ("t-1", Some(0)));
        assert_eq!(t.pick(5), ("t-0", Some(0)));
    }

    #[test]
    fn librdkafka_partitioner_leaves_the_partition_to_the_client() {
        let one = TargetArgs {
            topics: 1,
            partitioner: Partitioner::Librdkafka,
        };
        assert_eq!(one.topic_names("t"), ["t"]);
        let t = Targets::new(
            vec!["a".into(), "b".into()],
            &[vec![0, 1], vec![0]],
            one.partitioner,
        );
        assert_eq!(t.pick(0), ("a", None));
        assert_eq!(t.pick(1), ("b", None));
        assert_eq!(t.pick(2), ("a", None));
    }
}
