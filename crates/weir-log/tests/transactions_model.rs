//! Property test: random interleavings of transactional writes, plain writes, COMMIT / ABORT
//! markers and clean or unclean restarts of three producers agree with a simple model on the
//! ongoing transactions, the last stable offset and the aborted transactions (the whole list and
//! every range query). A follower copying the log agrees too. `PROPTEST_CASES` runs more cases.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use weir_log::batch::build_batch;
use weir_log::{
    AbortedTxn, LogConfig, LogManager, ManualClock, PartitionLog, TopicPartition, TxnMarker,
    TxnResult,
};

#[derive(Debug, Clone)]
enum Op {
    Write { pid: i64 },
    Plain,
    End { pid: i64, commit: bool },
    Restart { clean: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (1i64..4).prop_map(|pid| Op::Write { pid }),
        2 => Just(Op::Plain),
        3 => (1i64..4, any::<bool>()).prop_map(|(pid, commit)| Op::End { pid, commit }),
        1 => any::<bool>().prop_map(|clean| Op::Restart { clean }),
    ]
}

fn txn_batch(pid: i64, seq: i32) -> Vec<u8> {
    let mut b = build_batch(0, 1_000, &[(None, b"transactional value")]);
    b[21..23].copy_from_slice(&0x10i16.to_be_bytes());
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&0i16.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn config() -> LogConfig {
    let mut c = LogConfig::default();
    c.set("segment.bytes", "300").unwrap();
    c
}

fn open(dir: &std::path::Path) -> (Arc<LogManager>, Arc<PartitionLog>) {
    let m = LogManager::open(dir, Arc::new(ManualClock::new(10_000))).unwrap();
    let l = m
        .get_or_create(&TopicPartition::new("t", 0), config())
        .unwrap();
    (m, l)
}

#[derive(Default)]
struct Model {
    ongoing: BTreeMap<i64, i64>, // pid -> first offset
    seq: BTreeMap<i64, i32>,
    aborted: Vec<AbortedTxn>,
}

fn check(model: &Model, log: &PartitionLog) {
    let leo = log.log_end_offset();
    let mut ongoing: Vec<(i64, i64)> = model.ongoing.iter().map(|(&p, &f)| (p, f)).collect();
    ongoing.sort_by_key(|&(_, f)| f);
    assert_eq!(log.ongoing_transactions(), ongoing);
    let lso = ongoing.first().map_or(leo, |&(_, f)| f);
    assert_eq!(log.last_stable_offset(), lso);
    assert_eq!(log.collect_aborted(0, leo).unwrap(), model.aborted);
    for start in (0..leo).step_by(3) {
        for upper in [start + 1, start + 4] {
            let want: Vec<AbortedTxn> = model
                .aborted
                .iter()
                .filter(|t| t.last_offset >= start && t.first_offset < upper)
                .copied()
                .collect();
            assert_eq!(
                log.collect_aborted(start, upper).unwrap(),
                want,
                "[{start}, {upper})"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn transactions_agree_with_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let (mut mgr, mut log) = open(dir.path());
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Write { pid } => {
                    let seq = model.seq.entry(pid).or_insert(0);
                    let r = log.append(&txn_batch(pid, *seq)).unwrap();
                    *seq += 1;
                    model.ongoing.entry(pid).or_insert(r.base_offset);
                }
                Op::Plain => {
                    log.append(&build_batch(0, 1, &[(None, b"plain")])).unwrap();
                }
                Op::End { pid, commit } => {
                    let result = if commit { TxnResult::Commit } else { TxnResult::Abort };
                    let r = log
                        .append_txn_marker(&TxnMarker {
                            producer_id: pid,
                            producer_epoch: 0,
                            coordinator_epoch: 0,
                            result,
                            transaction_version: 1,
                        })
                        .unwrap();
                    if let Some(first) = model.ongoing.remove(&pid) {
                        if !commit {
                            let lso = model
                                .ongoing
                                .values()
                                .min()
                                .copied()
                                .unwrap_or(r.base_offset + 1);
                            model.aborted.push(AbortedTxn {
                                producer_id: pid,
                                first_offset: first,
                                last_offset: r.base_offset,
                                last_stable_offset: lso,
                            });
                        }
                    }
                }
                Op::Restart { clean } => {
                    mgr.checkpoint().unwrap();
                    if clean {
                        mgr.shutdown().unwrap();
                    }
                    drop(log);
                    drop(mgr);
                    (mgr, log) = open(dir.path());
                }
            }
            log.set_high_watermark(log.log_end_offset());
            check(&model, &log);
        }
        // A follower copying everything agrees.
        let fdir = tempfile::tempdir().unwrap();
        let (_fm, follower) = open(fdir.path());
        let leo = log.log_end_offset();
        while follower.log_end_offset() < leo {
            let bytes = log
                .read(follower.log_end_offset(), 500, leo)
                .unwrap()
                .records
                .to_bytes()
                .unwrap();
            follower.append_replicated(&bytes).unwrap();
        }
        follower.set_high_watermark(leo);
        check(&model, &follower);
    }
}
