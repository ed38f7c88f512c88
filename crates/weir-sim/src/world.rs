//! The deterministic scheduler and the simulated network: a priority queue of timed events (ties
//! broken by insertion order), a clock that jumps from event to event, and message delivery with
//! loss, duplication, random delay (hence reordering) and network partitions, every choice drawn
//! from the seeded [`Rng`]. No threads, no wall clock.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap};
use std::fmt::Debug;

use crate::report::Stats;
use crate::rng::Rng;

/// Which faults a run injects.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Smallest network delay (ms).
    pub min_delay_ms: u64,
    /// Largest network delay (ms); delays are drawn independently, so messages reorder.
    pub max_delay_ms: u64,
    /// Cut the network into two sides now and then (healed later).
    pub partitions: bool,
    /// Crash and restart nodes.
    pub crashes: bool,
}

impl Default for Faults {
    /// Moderate faults: 5% loss, 3% duplication, 1–30 ms delays, partitions and crashes.
    fn default() -> Self {
        Faults {
            loss: 0.05,
            duplicate: 0.03,
            min_delay_ms: 1,
            max_delay_ms: 30,
            partitions: true,
            crashes: true,
        }
    }
}

impl Faults {
    /// A perfect network (fixed 1 ms delay) and no crashes.
    pub fn none() -> Self {
        Faults {
            loss: 0.0,
            duplicate: 0.0,
            min_delay_ms: 1,
            max_delay_ms: 1,
            partitions: false,
            crashes: false,
        }
    }

    /// Parse `none`, `default`, or a comma-separated list applied to the defaults:
    /// `loss=0.1,dup=0.05,delay=1..50,partitions=off,crashes=on` (also `none,crashes=on`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut f = Faults::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').unwrap_or((item, ""));
            let flag = |v: &str| match v {
                "on" | "true" | "1" | "" => Ok(true),
                "off" | "false" | "0" => Ok(false),
                _ => Err(format!("{k}: expected on/off, got {v}")),
            };
            let num = |v: &str| v.parse::<f64>().map_err(|e| format!("{k}={v}: {e}"));
            match k {
                "none" => f = Faults::none(),
                "default" => f = Faults::default(),
                "loss" => f.loss = num(v)?,
                "dup" | "duplicate" => f.duplicate = num(v)?,
                "delay" => {
                    let (lo, hi) = v.split_once("..").unwrap_or((v, v));
                    f.min_delay_ms = lo.parse().map_err(|e| format!("delay {v}: {e}"))?;
                    f.max_delay_ms = hi.parse().map_err(|e| format!("delay {v}: {e}"))?;
                    if f.min_delay_ms > f.max_delay_ms || f.min_delay_ms == 0 {
                        return Err(format!("delay {v}: need 1 <= lo <= hi"));
                    }
                }
                "partitions" => f.partitions = flag(v)?,
                "crashes" => f.crashes = flag(v)?,
                _ => return Err(format!("unknown fault {k:?}")),
            }
        }
        Ok(f)
    }
}

struct Item<E> {
    at: u64,
    seq: u64,
    ev: E,
}

impl<E> PartialEq for Item<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl<E> Eq for Item<E> {}
impl<E> PartialOrd for Item<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Item<E> {
    /// Reversed: the earliest event (then the first scheduled) is the heap's maximum.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A simulated world: clock, event queue, network, random source, counters and (optionally)
/// a trace of every event.
pub struct World<E> {
    /// Current simulated time (ms).
    pub now: u64,
    /// The run's random source.
    pub rng: Rng,
    /// The faults injected.
    pub faults: Faults,
    /// Counters for the summary.
    pub stats: Stats,
    queue: BinaryHeap<Item<E>>,
    seq: u64,
    cut: BTreeSet<(i32, i32)>,
    trace: Option<Vec<String>>,
}

impl<E: Clone + Debug> World<E> {
    /// A world at time 0 drawing from `seed`; with `trace`, every event and note is recorded.
    pub fn new(seed: u64, faults: Faults, trace: bool) -> Self {
        World {
            now: 0,
            rng: Rng::new(seed),
            faults,
            stats: Stats::default(),
            queue: BinaryHeap::new(),
            seq: 0,
            cut: BTreeSet::new(),
            trace: trace.then(Vec::new),
        }
    }

    /// Schedule `ev` `delay` ms from now.
    pub fn at(&mut self, delay: u64, ev: E) {
        self.seq += 1;
        self.queue.push(Item {
            at: self.now + delay,
            seq: self.seq,
            ev,
        });
    }

    /// The next event (the clock moves to its time), or None when the queue is empty or the
    /// next event is after `until`.
    pub fn next(&mut self, until: u64) -> Option<E> {
        if self.queue.peek()?.at > until {
            return None;
        }
        let item = self.queue.pop()?;
        self.now = item.at;
        self.stats.events += 1;
        if let Some(t) = &mut self.trace {
            t.push(format!("{:>7} ms  {:?}", item.at, item.ev));
        }
        Some(item.ev)
    }

    /// True unless a partition separates `a` and `b`.
    pub fn connected(&self, a: i32, b: i32) -> bool {
        !self.cut.contains(&(a.min(b), a.max(b)))
    }

    /// Send a message from `from` to `to`: lost (also across a partition), or delivered after a
    /// random delay, sometimes twice.
    pub fn send(&mut self, from: i32, to: i32, ev: E) {
        self.stats.sent += 1;
        if !self.connected(from, to) || self.rng.chance(self.faults.loss) {
            self.stats.dropped += 1;
            return;
        }
        if self.rng.chance(self.faults.duplicate) {
            self.stats.duplicated += 1;
            let d = self.delay();
            self.at(d, ev.clone());
        }
        let d = self.delay();
        self.at(d, ev);
    }

    fn delay(&mut self) -> u64 {
        self.rng
            .range(self.faults.min_delay_ms, self.faults.max_delay_ms)
    }

    /// Cut the network between a random non-empty proper subset of `nodes` and the rest.
    pub fn partition(&mut self, nodes: &[i32]) {
        if nodes.len() < 2 {
            return;
        }
        let mut side: Vec<bool> = nodes.iter().map(|_| self.rng.chance(0.5)).collect();
        if side.iter().all(|&s| s) || side.iter().all(|&s| !s) {
            let i = self.rng.below(nodes.len() as u64) as usize;
            side[i] = !side[i];
        }
        self.cut.clear();
        for (i, &a) in nodes.iter().enumerate() {
            for (j, &b) in nodes.iter().enumerate() {
                if side[i] != side[j] {
                    self.cut.insert((a.min(b), a.max(b)));
                }
            }
        }
        self.stats.partitions += 1;
        let cut = self.cut.clone();
        self.note(|| format!("partition: cut {cut:?}"));
    }

    /// Remove every cut.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Add a line to the trace (the closure runs only when tracing).
    pub fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            t.push(format!("{:>7} ms    {}", self.now, line()));
        }
    }

    /// The trace so far (empty without tracing).
    pub fn take_trace(&mut self) -> Vec<String> {
        self.trace.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_in_time_then_insertion_order() {
        let mut w: World<u32> = World::new(1, Faults::none(), true);
        w.at(5, 1);
        w.at(3, 2);
        w.at(5, 3);
        let order: Vec<u32> = std::iter::from_fn(|| w.next(100)).collect();
        assert_eq!(order, vec![2, 1, 3]);
        assert_eq!(w.now, 5);
        assert_eq!(w.stats.events, 3);
        assert_eq!(w.take_trace().len(), 3);
    }

    #[test]
    fn partitions_drop_messages_and_heal() {
        let mut w: World<u32> = World::new(3, Faults::none(), false);
        w.partition(&[1, 2]);
        assert!(!w.connected(1, 2));
        w.send(1, 2, 9);
        assert_eq!(w.stats.dropped, 1);
        w.heal();
        w.send(1, 2, 9);
        assert_eq!(w.next(10), Some(9));
    }

    #[test]
    fn fault_specs_parse() {
        let f = Faults::parse("none,loss=0.2,delay=2..9,crashes=on").unwrap();
        assert_eq!((f.loss, f.min_delay_ms, f.max_delay_ms), (0.2, 2, 9));
        assert!(f.crashes && !f.partitions);
        assert!(Faults::parse("bogus").is_err());
    }
}
