//! The state both brokers are given before the shapes run, by the same requests: topics, a few
//! records, warm group and transaction coordinators, committed offsets; then what the shapes
//! need to know about each broker (its node id, topic ids) and the versions it advertises.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::*;
use weir_protocol::versions::{supported_range, SUPPORTED};

use crate::names::*;
use crate::shapes::{admin_create_topic, batch, commit, produce, st, Ctx};
use crate::wire::{Conn, Outcome};

/// Versions a broker advertises: (min, max) by API key.
pub type Ranges = HashMap<i16, (i16, i16)>;

/// The version of `key` the setup uses: `want` clamped into Weir's range.
fn pick(key: ApiKey, want: i16) -> i16 {
    let (lo, hi) = supported_range(key).unwrap_or((want, want));
    want.clamp(lo, hi)
}

fn call(conn: &mut Conn, key: ApiKey, v: i16, req: RequestKind) -> Result<ResponseKind, String> {
    match conn.call(key, v, &req)? {
        Outcome::Response(r) => Ok(*r),
        other => Err(format!("{} {key:?} v{v}: {other:?}", conn.addr())),
    }
}

/// Poll `f` until it returns Some (a condition on the broker's answers), at most `timeout`.
fn await_some<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<Option<T>, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(t) = f()? {
            return Ok(t);
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: not within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The topics the setup creates.
fn setup_topics() -> Vec<String> {
    let mut t = vec![
        DATA_TOPIC.to_string(),
        DELETE_RECORDS_TOPIC.to_string(),
        PARTITIONS_TOPIC.to_string(),
    ];
    if let Some((lo, hi)) = supported_range(ApiKey::DeleteTopics) {
        t.extend((lo..=hi).map(|v| format!("dt-v{v}")));
    }
    t
}

/// Give the broker behind `conn` the shapes' starting state; returns its [`Ctx`] and the
/// versions it advertises.
pub fn run(conn: &mut Conn) -> Result<(Ctx, Ranges), String> {
    let av = pick(ApiKey::ApiVersions, 3);
    let ranges = match call(
        conn,
        ApiKey::ApiVersions,
        av,
        RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(st("weir-conformance"))
                .with_client_software_version(st("1")),
        ),
    )? {
        ResponseKind::ApiVersions(r) => r
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect(),
        r => return Err(format!("ApiVersions answered {r:?}")),
    };

    let cv = pick(ApiKey::CreateTopics, 5);
    for t in setup_topics() {
        let ResponseKind::CreateTopics(r) = call(
            conn,
            ApiKey::CreateTopics,
            cv,
            RequestKind::CreateTopics(admin_create_topic(&t, 1)),
        )?
        else {
            return Err("CreateTopics: wrong response kind".into());
        };
        let code = r.topics.first().map_or(-1, |t| t.error_code);
        if code != 0 {
            return Err(format!("{}: creating {t}: error {code}", conn.addr()));
        }
    }
    let mv = pick(ApiKey::Metadata, 12);
    let mut ctx = await_some("topics with leaders", Duration::from_secs(60), || {
        let ResponseKind::Metadata(m) = call(
            conn,
            ApiKey::Metadata,
            mv,
            RequestKind::Metadata(MetadataRequest::default().with_topics(None)),
        )?
        else {
            return Err("Metadata: wrong response kind".into());
        };
        let ready = setup_topics().iter().all(|name| {
            m.topics.iter().any(|t| {
                t.name.as_ref().is_some_and(|n| n.0.as_str() == name)
                    && t.error_code == 0
                    && !t.partitions.is_empty()
                    && t.partitions.iter().all(|p| p.leader_id.0 >= 0)
            })
        });
        Ok(ready.then(|| Ctx {
            node_id: m.brokers.first().map_or(-1, |b| b.node_id.0),
            cluster_id: m
                .cluster_id
                .as_ref()
                .map_or(String::new(), |c| c.to_string()),
            log_dirs: Vec::new(),
            topic_ids: m
                .topics
                .iter()
                .filter_map(|t| Some((t.name.as_ref()?.0.to_string(), t.topic_id)))
                .collect(),
        }))
    })?;
    let dv = pick(ApiKey::DescribeLogDirs, 1);
    let ResponseKind::DescribeLogDirs(r) = call(
        conn,
        ApiKey::DescribeLogDirs,
        dv,
        RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default().with_topics(None)),
    )?
    else {
        return Err("DescribeLogDirs: wrong response kind".into());
    };
    ctx.log_dirs = r.results.iter().map(|d| d.log_dir.to_string()).collect();

    let pv = pick(ApiKey::Produce, 9);
    for (t, n) in [(DATA_TOPIC, 3), (DELETE_RECORDS_TOPIC, 10)] {
        let ResponseKind::Produce(r) = call(
            conn,
            ApiKey::Produce,
            pv,
            RequestKind::Produce(produce(&ctx, pv, t, 0, batch(n, 8))),
        )?
        else {
            return Err("Produce: wrong response kind".into());
        };
        let p = r
            .responses
            .first()
            .and_then(|t| t.partition_responses.first());
        if p.is_none_or(|p| p.error_code != 0) {
            return Err(format!("{}: producing to {t}: {p:?}", conn.addr()));
        }
    }

    let fv = pick(ApiKey::FindCoordinator, 3);
    for (key, key_type) in [(OFFSETS_GROUP, 0), ("conf-txn", 1)] {
        await_some("a coordinator", Duration::from_secs(60), || {
            let ResponseKind::FindCoordinator(r) = call(
                conn,
                ApiKey::FindCoordinator,
                fv,
                RequestKind::FindCoordinator(
                    FindCoordinatorRequest::default()
                        .with_key(st(key))
                        .with_key_type(key_type),
                ),
            )?
            else {
                return Err("FindCoordinator: wrong response kind".into());
            };
            Ok((r.error_code == 0).then_some(()))
        })?;
    }

    // The transaction coordinator answers COORDINATOR_LOAD_IN_PROGRESS for a while after
    // FindCoordinator already names it.
    let iv = pick(ApiKey::InitProducerId, 4);
    await_some(
        "a loaded transaction coordinator",
        Duration::from_secs(60),
        || {
            let ResponseKind::InitProducerId(r) = call(
                conn,
                ApiKey::InitProducerId,
                iv,
                RequestKind::InitProducerId(
                    InitProducerIdRequest::default()
                        .with_transactional_id(Some(TransactionalId(st("conf-warm-up"))))
                        .with_transaction_timeout_ms(60_000)
                        .with_producer_id(ProducerId(-1))
                        .with_producer_epoch(-1),
                ),
            )?
            else {
                return Err("InitProducerId: wrong response kind".into());
            };
            match r.error_code {
                0 => Ok(Some(())),
                14 | 15 | 16 | 51 => Ok(None),
                c => Err(format!("{}: InitProducerId: error {c}", conn.addr())),
            }
        },
    )?;

    let ov = pick(ApiKey::OffsetCommit, 8);
    if let Some((lo, hi)) = supported_range(ApiKey::DeleteGroups) {
        for v in lo..=hi {
            let grp = format!("dg-v{v}");
            await_some("an offset commit", Duration::from_secs(60), || {
                let ResponseKind::OffsetCommit(r) = call(
                    conn,
                    ApiKey::OffsetCommit,
                    ov,
                    RequestKind::OffsetCommit(commit(
                        ov,
                        &grp,
                        DATA_TOPIC,
                        ctx.topic_id(DATA_TOPIC),
                        1,
                    )),
                )?
                else {
                    return Err("OffsetCommit: wrong response kind".into());
                };
                let code = r
                    .topics
                    .first()
                    .and_then(|t| t.partitions.first())
                    .map_or(-1, |p| p.error_code);
                match code {
                    0 => Ok(Some(())),
                    14..=16 => Ok(None), // coordinator loading / not available / not coordinator
                    c => Err(format!("{}: committing for {grp}: error {c}", conn.addr())),
                }
            })?;
        }
    }
    Ok((ctx, ranges))
}

/// Every (API, version) Weir advertises, read from its table at run time.
pub fn table() -> impl Iterator<Item = (ApiKey, i16, i16)> {
    SUPPORTED.iter().copied()
}
