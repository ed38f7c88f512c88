//! Transactional offsets over real partition logs (the broker's `InternalTopic` adapter under the
//! group coordinator): transactional batches with base sequence -1, a stale producer epoch
//! refused by the log, COMMIT/ABORT markers, and a restart whose replay completes committed and
//! aborted transactions and keeps the open one pending.
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use weir_group_coordinator::{Committer, OFFSETS_TOPIC};
use weir_log::TxnMarker;

use std::collections::BTreeMap;
use std::sync::Arc;

use weir_broker::{Broker, BrokerConfig, BrokerError};
use weir_log::{TopicPartition, TxnResult};

struct Running {
    broker: Arc<Broker>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), BrokerError>>,
}

async fn start(dir: &std::path::Path) -> Running {
    let mut cfg = BrokerConfig::default_single_node();
    cfg.log_dirs = vec![dir.to_path_buf()];
    for l in cfg
        .listeners
        .iter_mut()
        .chain(cfg.advertised_listeners.iter_mut())
    {
        l.port = 0;
    }
    let broker = Broker::open(cfg).await.expect("broker opens");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(weir_broker::server::run_with_listeners(
        broker.clone(),
        vec![listener],
        async move {
            let _ = rx.await;
        },
    ));
    Running { broker, stop, task }
}

async fn stop(r: Running) {
    let _ = r.stop.send(());
    tokio::time::timeout(Duration::from_secs(20), r.task)
        .await
        .expect("shutdown finishes")
        .unwrap()
        .expect("clean shutdown");
}

/// The `__consumer_offsets` partition of "g", once its shard is loaded here.
async fn loaded(b: &Broker) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let (Some(p), Ok(())) = (
            b.groups.coordinator_partition("g"),
            b.groups.check_coordinator("g"),
        ) {
            if b.groups.owned().contains_key(&p) {
                return p;
            }
        }
        assert!(Instant::now() < deadline, "the group's shard never loaded");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn marker(b: &Broker, p: i32, producer_id: i64, producer_epoch: i16, commit: bool) {
    let log = b
        .replicas
        .log(&TopicPartition::new(OFFSETS_TOPIC, p))
        .unwrap();
    log.append_txn_marker(&TxnMarker {
        producer_id,
        producer_epoch,
        coordinator_epoch: 0,
        result: if commit {
            TxnResult::Commit
        } else {
            TxnResult::Abort
        },
        transaction_version: 1,
    })
    .unwrap();
}

/// (offset, error) of t-0 and t-1 with require_stable.
fn stable(b: &Broker) -> Vec<(Option<i64>, i16)> {
    b.groups
        .fetch_offsets("g", None, Some(vec![("t".into(), vec![0, 1])]), true)
        .unwrap()
        .into_iter()
        .map(|f| (f.offset.map(|v| v.offset), f.error_code))
        .collect()
}

/// The whole path over real partition logs: transactional batches (base sequence -1, one
/// per TxnOffsetCommit, several per producer epoch), a stale epoch refused by the log,
/// markers, and a restart whose replay completes committed / aborted transactions and keeps
/// the open one pending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_offsets_over_real_logs_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let who = Committer {
        generation_or_epoch: -1,
        ..Default::default()
    };
    let e = |p: i32, o: i64| vec![("t".to_string(), p, o, -1, String::new())];
    let r = start(dir.path()).await;
    let b = r.broker.clone();
    b.groups.ensure_offsets_topic().await.unwrap();
    b.admin
        .create_topic(
            "t",
            2,
            1,
            BTreeMap::new(),
            false,
            weir_broker::admin::proposal::deadline_of(0),
        )
        .await
        .unwrap();
    let p = loaded(&b).await;
    assert_eq!(
        b.groups
            .txn_offset_commit("g", 1000, 0, &who, e(0, 42))
            .await,
        vec![0]
    );
    assert_eq!(stable(&b), vec![(None, 88), (None, 0)]);
    marker(&b, p, 1000, 0, true);
    assert_eq!(b.groups.complete_transaction(p, 1000, true), Ok(1));
    assert_eq!(stable(&b), vec![(Some(42), 0), (None, 0)]);
    // The same producer and epoch again (base sequence -1 again): not taken for a retry.
    let log = b
        .replicas
        .log(&TopicPartition::new(OFFSETS_TOPIC, p))
        .unwrap();
    let end = log.log_end_offset();
    assert_eq!(
        b.groups
            .txn_offset_commit("g", 1000, 0, &who, e(0, 99))
            .await,
        vec![0]
    );
    assert_eq!(
        log.log_end_offset(),
        end + 1,
        "appended, not taken for a retry"
    );
    marker(&b, p, 1000, 0, false);
    assert_eq!(b.groups.complete_transaction(p, 1000, false), Ok(1));
    // An open transaction, and a stale epoch the log refuses.
    assert_eq!(
        b.groups
            .txn_offset_commit("g", 2000, 3, &who, e(1, 7))
            .await,
        vec![0]
    );
    assert_eq!(
        b.groups
            .txn_offset_commit("g", 2000, 2, &who, e(1, 8))
            .await,
        vec![47]
    );
    assert_eq!(stable(&b), vec![(Some(42), 0), (None, 88)]);
    stop(r).await;

    let r = start(dir.path()).await;
    let b = r.broker.clone();
    let p = loaded(&b).await;
    assert_eq!(stable(&b), vec![(Some(42), 0), (None, 88)]);
    marker(&b, p, 2000, 3, true);
    assert_eq!(b.groups.complete_transaction(p, 2000, true), Ok(1));
    assert_eq!(stable(&b), vec![(Some(42), 0), (Some(7), 0)]);
    stop(r).await;
}
