//! A subscribed librdkafka consumer running on its own thread, for consumer-group tests: it
//! records its current assignment and every message it consumed, and stops on request (closing
//! the consumer, which leaves the group).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;

/// What a member observed, shared with the test thread.
#[derive(Debug, Default)]
pub struct Observed {
    /// Partitions currently assigned.
    pub assignment: BTreeSet<i32>,
    /// (partition, offset) of every consumed message, in order.
    pub consumed: Vec<(i32, i64)>,
    /// Errors reported by poll.
    pub errors: Vec<String>,
}

/// A running group member.
pub struct GroupMember {
    /// Shared observations.
    pub observed: Arc<Mutex<Observed>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GroupMember {
    /// Start a consumer in `group` subscribed to `topic` (auto.offset.reset=earliest, auto commit
    /// every 200 ms); `extra` overrides any setting (e.g. `group.protocol=consumer`).
    pub fn start(bootstrap: &str, group: &str, topic: &str, extra: &[(&str, &str)]) -> Self {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "200");
        for (k, v) in extra {
            cfg.set(*k, *v);
        }
        let consumer: BaseConsumer = cfg.create().expect("create group consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let observed = Arc::new(Mutex::new(Observed::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (obs, st) = (observed.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let msg = consumer.poll(Duration::from_millis(50));
                let assignment: BTreeSet<i32> = consumer
                    .assignment()
                    .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
                    .unwrap_or_default();
                let mut o = obs.lock().unwrap_or_else(|e| e.into_inner());
                o.assignment = assignment;
                match msg {
                    Some(Ok(m)) => o.consumed.push((m.partition(), m.offset())),
                    Some(Err(e)) => o.errors.push(e.to_string()),
                    None => {}
                }
            }
            let _ = consumer.commit_consumer_state(CommitMode::Sync);
            drop(consumer); // close: LeaveGroup
        });
        GroupMember {
            observed,
            stop,
            thread: Some(thread),
        }
    }

    /// The current assignment.
    pub fn assignment(&self) -> BTreeSet<i32> {
        self.lock().assignment.clone()
    }

    /// Lock the observations.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Observed> {
        self.observed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Commit what was consumed, close the consumer (leaving the group) and join the thread.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.stop();
    }
}
