//! Shapes of the data-path APIs: Produce, Fetch, ListOffsets, Metadata, OffsetForLeaderEpoch,
//! DeleteRecords, DescribeProducers.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use uuid::Uuid;

use super::shape::{topic, Ctx, Shape};
use crate::names::{DATA_TOPIC, DELETE_RECORDS_TOPIC, MISSING_TOPIC, MISSING_TOPIC_ID};

use RequestKind as R;

/// Base timestamp of every record the harness writes: the harness's start, to the second (a
/// fixed old one would be refused by Kafka's `log.message.timestamp.before.max.ms`).
pub fn timestamp() -> i64 {
    static START: OnceLock<i64> = OnceLock::new();
    *START.get_or_init(|| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        now as i64 * 1000
    })
}

/// One uncompressed RecordBatch v2 of `n` records, values `value_len` bytes each.
pub fn batch(n: i32, value_len: usize) -> Bytes {
    encode(n, value_len, true)
}

/// `n` records as `n` batches of one record (the codec starts a new batch when
/// offset - sequence changes).
fn batches(n: i32) -> Bytes {
    encode(n, 8, false)
}

fn encode(n: i32, value_len: usize, one_batch: bool) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            // No producer id: the batch's base sequence is -1.
            sequence: if one_batch { i - 1 } else { -1 },
            timestamp: timestamp() + i64::from(i),
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(vec![b'v'; value_len])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode a record batch");
    buf.freeze()
}

/// A produce request of `records` to `name` partition `p`, by name or (v13+) by id.
pub fn produce(ctx: &Ctx, v: i16, name: &str, p: i32, records: Bytes) -> ProduceRequest {
    let mut t = produce_request::TopicProduceData::default().with_partition_data(vec![
        produce_request::PartitionProduceData::default()
            .with_index(p)
            .with_records(Some(records)),
    ]);
    if v >= 13 {
        t.topic_id = id_of(ctx, name);
    } else {
        t.name = topic(name);
    }
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![t])
}

/// The id of `name` on the broker of `ctx` (a fixed random id for [`MISSING_TOPIC`]).
pub(super) fn id_of(ctx: &Ctx, name: &str) -> Uuid {
    if name == MISSING_TOPIC {
        MISSING_TOPIC_ID
    } else {
        ctx.topic_id(name)
    }
}

fn fetch(ctx: &Ctx, v: i16, name: &str, offset: i64, isolation: i8) -> FetchRequest {
    let mut t = fetch_request::FetchTopic::default().with_partitions(vec![
        fetch_request::FetchPartition::default()
            .with_partition(0)
            .with_fetch_offset(offset)
            .with_partition_max_bytes(1 << 20),
    ]);
    if v >= 13 {
        t.topic_id = id_of(ctx, name);
    } else {
        t.topic = topic(name);
    }
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(50 << 20)
        .with_isolation_level(isolation)
        .with_topics(vec![t])
}

fn list_offsets(v: i16, name: &str, ts: i64) -> ListOffsetsRequest {
    let mut r = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
            .with_name(topic(name))
            .with_partitions(vec![
                list_offsets_request::ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_current_leader_epoch(-1)
                    .with_timestamp(ts),
            ])]);
    if v >= 10 {
        r.timeout_ms = 10_000;
    }
    r
}

fn metadata(ctx: &Ctx, v: i16, name: &str, by_id: bool) -> MetadataRequest {
    let mut t = metadata_request::MetadataRequestTopic::default();
    if by_id {
        t.topic_id = id_of(ctx, name);
    } else {
        t.name = Some(topic(name));
    }
    let mut r = MetadataRequest::default().with_topics(Some(vec![t]));
    if v >= 4 {
        r.allow_auto_topic_creation = false;
    }
    r
}

fn leader_epoch(v: i16, name: &str, epoch: i32) -> OffsetForLeaderEpochRequest {
    let mut r = OffsetForLeaderEpochRequest::default().with_topics(vec![
        offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
            .with_topic(topic(name))
            .with_partitions(vec![
                offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(-1)
                    .with_leader_epoch(epoch),
            ]),
    ]);
    if v >= 3 {
        r.replica_id = BrokerId(-1);
    }
    r
}

fn delete_records(name: &str, offset: i64) -> DeleteRecordsRequest {
    DeleteRecordsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![delete_records_request::DeleteRecordsTopic::default()
            .with_name(topic(name))
            .with_partitions(vec![
                delete_records_request::DeleteRecordsPartition::default()
                    .with_partition_index(0)
                    .with_offset(offset),
            ])])
}

fn describe_producers(name: &str) -> DescribeProducersRequest {
    DescribeProducersRequest::default().with_topics(vec![
        describe_producers_request::TopicRequest::default()
            .with_name(topic(name))
            .with_partition_indexes(vec![0]),
    ])
}

/// The scenario shapes of `key` at `v`, or None when `key` is not a data-path API.
pub fn shapes(key: ApiKey, v: i16) -> Option<Vec<Shape>> {
    Some(match key {
        ApiKey::Produce => vec![
            Shape::new("existing-topic", move |c| {
                R::Produce(produce(c, v, DATA_TOPIC, 0, batch(2, 8)))
            }),
            Shape::new("unknown-topic", move |c| {
                R::Produce(produce(c, v, MISSING_TOPIC, 0, batch(1, 8)))
            }),
            Shape::new("unknown-partition", move |c| {
                R::Produce(produce(c, v, DATA_TOPIC, 7, batch(1, 8)))
            }),
            Shape::new("record-too-large", move |c| {
                R::Produce(produce(c, v, DATA_TOPIC, 0, batch(1, 1_100_000)))
            }),
            Shape::new("two-batches", move |c| {
                R::Produce(produce(c, v, DATA_TOPIC, 0, batches(2)))
            }),
            Shape::new("corrupt-batch", move |c| {
                let mut b = batch(1, 8).to_vec();
                let last = b.len() - 1;
                b[last] ^= 0xff; // the CRC no longer matches
                R::Produce(produce(c, v, DATA_TOPIC, 0, Bytes::from(b)))
            }),
        ],
        ApiKey::Fetch => vec![
            Shape::new("existing-topic", move |c| {
                R::Fetch(fetch(c, v, DATA_TOPIC, 0, 0))
            }),
            Shape::new("read-committed", move |c| {
                R::Fetch(fetch(c, v, DATA_TOPIC, 1, 1))
            }),
            Shape::new("offset-out-of-range", move |c| {
                R::Fetch(fetch(c, v, DATA_TOPIC, 1_000_000, 0))
            }),
            Shape::new("unknown-topic", move |c| {
                R::Fetch(fetch(c, v, MISSING_TOPIC, 0, 0))
            }),
        ],
        ApiKey::ListOffsets => {
            let mut s = vec![
                Shape::fixed("earliest", R::ListOffsets(list_offsets(v, DATA_TOPIC, -2))),
                Shape::fixed("latest", R::ListOffsets(list_offsets(v, DATA_TOPIC, -1))),
                Shape::fixed(
                    "by-timestamp",
                    R::ListOffsets(list_offsets(v, DATA_TOPIC, timestamp() + 1)),
                ),
                Shape::fixed(
                    "unknown-topic",
                    R::ListOffsets(list_offsets(v, MISSING_TOPIC, -1)),
                ),
            ];
            if v >= 7 {
                s.push(Shape::fixed(
                    "max-timestamp",
                    R::ListOffsets(list_offsets(v, DATA_TOPIC, -3)),
                ));
            }
            s
        }
        ApiKey::Metadata => {
            let mut s = vec![
                Shape::new("existing-topic", move |c| {
                    R::Metadata(metadata(c, v, DATA_TOPIC, false))
                }),
                // v0-v3 imply allow_auto_topic_creation: a name of its own, so that the topic
                // the other shapes rely on staying unknown is not created here.
                Shape::new("unknown-topic", move |c| {
                    let name = if v < 4 {
                        format!("conf-auto-v{v}")
                    } else {
                        MISSING_TOPIC.to_string()
                    };
                    R::Metadata(metadata(c, v, &name, false))
                }),
            ];
            if v >= 1 {
                s.push(Shape::fixed(
                    "all-topics",
                    R::Metadata(MetadataRequest::default().with_topics(None)),
                ));
            }
            if v >= 12 {
                s.push(Shape::new("by-topic-id", move |c| {
                    R::Metadata(metadata(c, v, DATA_TOPIC, true))
                }));
            }
            s
        }
        ApiKey::OffsetForLeaderEpoch => vec![
            Shape::fixed(
                "epoch-0",
                R::OffsetForLeaderEpoch(leader_epoch(v, DATA_TOPIC, 0)),
            ),
            Shape::fixed(
                "future-epoch",
                R::OffsetForLeaderEpoch(leader_epoch(v, DATA_TOPIC, 9)),
            ),
            Shape::fixed(
                "unknown-topic",
                R::OffsetForLeaderEpoch(leader_epoch(v, MISSING_TOPIC, 0)),
            ),
        ],
        ApiKey::DeleteRecords => vec![
            Shape::fixed(
                "existing-topic",
                R::DeleteRecords(delete_records(DELETE_RECORDS_TOPIC, i64::from(v) + 1)),
            ),
            Shape::fixed(
                "beyond-high-watermark",
                R::DeleteRecords(delete_records(DELETE_RECORDS_TOPIC, 1_000)),
            ),
            Shape::fixed(
                "unknown-topic",
                R::DeleteRecords(delete_records(MISSING_TOPIC, 0)),
            ),
        ],
        ApiKey::DescribeProducers => vec![
            Shape::fixed(
                "existing-topic",
                R::DescribeProducers(describe_producers(DATA_TOPIC)),
            ),
            Shape::fixed(
                "unknown-topic",
                R::DescribeProducers(describe_producers(MISSING_TOPIC)),
            ),
        ],
        _ => return None,
    })
}
