//! Property test: random sequences of append / read / roll (segment size changes) / DeleteRecords
//! / truncate / clean and unclean restart agree with a simple in-memory model of the log on every
//! read. `PROPTEST_CASES` runs more cases.

use std::sync::Arc;

use proptest::prelude::*;
use weir_log::batch::{build_batch, set_base_offset, validate_batch};
use weir_log::{LogConfig, LogManager, ManualClock, PartitionLog, TopicPartition};

#[derive(Debug, Clone)]
enum Op {
    Append { records: usize, size: usize },
    Read { pick: prop::sample::Index },
    SegmentBytes { bytes: u64 },
    DeleteRecords { pick: prop::sample::Index },
    Truncate { pick: prop::sample::Index },
    Restart { clean: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..6, 0usize..300).prop_map(|(records, size)| Op::Append { records, size }),
        4 => any::<prop::sample::Index>().prop_map(|pick| Op::Read { pick }),
        1 => prop_oneof![Just(256u64), Just(1024), Just(1 << 20)].prop_map(|bytes| Op::SegmentBytes { bytes }),
        1 => any::<prop::sample::Index>().prop_map(|pick| Op::DeleteRecords { pick }),
        1 => any::<prop::sample::Index>().prop_map(|pick| Op::Truncate { pick }),
        1 => any::<bool>().prop_map(|clean| Op::Restart { clean }),
    ]
}

/// The model: batches (base offset, stored bytes) and the log start offset.
#[derive(Default)]
struct Model {
    batches: Vec<(i64, i64, Vec<u8>)>, // (base, last, bytes)
    log_start: i64,
}

impl Model {
    fn leo(&self) -> i64 {
        self.batches
            .last()
            .map(|b| b.1 + 1)
            .unwrap_or(self.log_start)
            .max(self.log_start)
    }
    fn pick(&self, i: &prop::sample::Index) -> i64 {
        let span = (self.leo() - self.log_start + 1) as usize;
        self.log_start + i.index(span) as i64
    }
}

fn open(dir: &std::path::Path, cfg: &LogConfig) -> (Arc<LogManager>, Arc<PartitionLog>) {
    let m = LogManager::open(dir, Arc::new(ManualClock::new(1_000))).unwrap();
    let l = m
        .get_or_create(&TopicPartition::new("m", 0), cfg.clone())
        .unwrap();
    l.set_high_watermark(l.log_end_offset());
    (m, l)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn log_agrees_with_model(ops in proptest::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = LogConfig {
            segment_bytes: 1024,
            ..LogConfig::default()
        };
        let (mut mgr, mut log) = open(dir.path(), &cfg);
        let mut model = Model::default();
        let mut seq = 0u64;
        for op in ops {
            match op {
                Op::Append { records, size } => {
                    let vals: Vec<Vec<u8>> = (0..records).map(|i| vec![(seq as u8).wrapping_add(i as u8); size]).collect();
                    let recs: Vec<(Option<&[u8]>, &[u8])> = vals.iter().map(|v| (None, v.as_slice())).collect();
                    let mut b = build_batch(0, seq as i64, &recs);
                    seq += 1;
                    let r = log.append(&b).unwrap();
                    prop_assert_eq!(r.base_offset, model.leo());
                    set_base_offset(&mut b, r.base_offset);
                    model.batches.push((r.base_offset, r.last_offset, b));
                    log.set_high_watermark(r.last_offset + 1);
                }
                Op::Read { pick } => {
                    let off = model.pick(&pick);
                    let got = log.read(off, 1, model.leo()).unwrap().records.to_bytes().unwrap();
                    match model.batches.iter().find(|(b, l, _)| *b <= off && off <= *l) {
                        Some((_, _, bytes)) => prop_assert_eq!(&got[..], &bytes[..]),
                        None => prop_assert!(got.is_empty(), "read at {} returned data past the end", off),
                    }
                }
                Op::SegmentBytes { bytes } => {
                    cfg.segment_bytes = bytes;
                    log.update_config(cfg.clone());
                }
                Op::DeleteRecords { pick } => {
                    let off = model.pick(&pick);
                    let low = log.delete_records_before(off).unwrap();
                    // As the broker does before answering DeleteRecords: make the new log start
                    // offset durable (log-start-offset-checkpoint).
                    mgr.checkpoint().unwrap();
                    model.log_start = model.log_start.max(off);
                    prop_assert_eq!(low, model.log_start);
                    if off > model.log_start {
                        prop_assert!(log.read(off - 1, 1, model.leo()).is_err());
                    }
                }
                Op::Truncate { pick } => {
                    // Replication truncates at batch boundaries (leader-epoch end offsets).
                    let bounds: Vec<i64> = model.batches.iter().map(|b| b.0).filter(|&b| b >= model.log_start).collect();
                    if bounds.is_empty() {
                        continue;
                    }
                    let off = bounds[pick.index(bounds.len())];
                    log.truncate_to(off).unwrap();
                    model.batches.retain(|(_, last, _)| *last < off);
                    model.log_start = model.log_start.min(model.leo());
                    log.set_high_watermark(model.leo());
                }
                Op::Restart { clean } => {
                    if clean {
                        mgr.shutdown().unwrap();
                    }
                    drop(log);
                    drop(mgr);
                    (mgr, log) = open(dir.path(), &cfg);
                }
            }
            prop_assert_eq!(log.log_end_offset(), model.leo());
            prop_assert_eq!(log.log_start_offset(), model.log_start);
        }
        // Final full scan: every visible batch is valid and matches the model.
        for (base, last, bytes) in model.batches.iter().filter(|(_, l, _)| *l >= model.log_start) {
            let got = log.read(*base.max(&model.log_start), 1, model.leo()).unwrap().records.to_bytes().unwrap();
            prop_assert!(validate_batch(&got).is_ok());
            prop_assert_eq!(&got[..], &bytes[..], "batch {}..={}", base, last);
        }
    }
}
