//! A blocking Kafka client that sends hand-built requests (kafka-protocol codecs) over one TCP
//! connection: for protocol-level tests of error codes that client libraries hide.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// One connection.
pub struct RawClient {
    stream: TcpStream,
    next_correlation: i32,
}

impl RawClient {
    /// Connect to `addr` (`host:port`).
    pub fn connect(addr: &str) -> RawClient {
        Self::try_connect(addr).expect("connect")
    }

    /// Connect to `addr`, or the I/O error (a 30 s read timeout applies to calls).
    pub fn try_connect(addr: &str) -> std::io::Result<RawClient> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(RawClient {
            stream,
            next_correlation: 1,
        })
    }

    /// Connect to `addr` (`ip:port`) giving up after `timeout` (a silently dropping network
    /// would otherwise hold the connect for minutes); calls then time out after `timeout` too.
    pub fn try_connect_timeout(addr: &str, timeout: Duration) -> std::io::Result<RawClient> {
        let sock: std::net::SocketAddr = addr
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
        let stream = TcpStream::connect_timeout(&sock, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(RawClient {
            stream,
            next_correlation: 1,
        })
    }

    /// Send `req` as `key` version `v` and decode the response (panics on I/O or decode errors,
    /// or a correlation id mismatch).
    pub fn call<Q: Encodable, R: Decodable>(&mut self, key: ApiKey, v: i16, req: &Q) -> R {
        self.try_call(key, v, req).expect("raw call")
    }

    /// [`call`](Self::call) returning errors instead of panicking (for brokers that may be down
    /// or frozen).
    pub fn try_call<Q: Encodable, R: Decodable>(
        &mut self,
        key: ApiKey,
        v: i16,
        req: &Q,
    ) -> std::io::Result<R> {
        let bad = |e: String| std::io::Error::other(e);
        let mut h = RequestHeader::default();
        h.request_api_key = key as i16;
        h.request_api_version = v;
        h.correlation_id = self.next_correlation;
        h.client_id = Some(StrBytes::from_static_str("weir-raw-test-client"));
        self.next_correlation += 1;
        let mut body = BytesMut::new();
        h.encode(&mut body, key.request_header_version(v))
            .map_err(|e| bad(e.to_string()))?;
        req.encode(&mut body, v).map_err(|e| bad(e.to_string()))?;
        let mut frame = (body.len() as i32).to_be_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.stream.write_all(&frame)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let mut buf = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
        self.stream.read_exact(&mut buf)?;
        let mut b = Bytes::from(buf);
        let rh = ResponseHeader::decode(&mut b, key.response_header_version(v))
            .map_err(|e| bad(e.to_string()))?;
        if rh.correlation_id != self.next_correlation - 1 {
            return Err(bad(format!("correlation id {}", rh.correlation_id)));
        }
        R::decode(&mut b, v).map_err(|e| bad(e.to_string()))
    }

    /// Set the read timeout of later calls.
    pub fn set_timeout(&mut self, timeout: Duration) {
        let _ = self.stream.set_read_timeout(Some(timeout));
    }
}

/// One uncompressed RecordBatch v2 of `n` records of producer `pid` at `epoch`, sequences from
/// `first_seq`, values `"{first_seq}+{i}"`; `transactional` sets the transactional attribute.
pub fn producer_batch(
    pid: i64,
    epoch: i16,
    first_seq: i32,
    n: i32,
    transactional: bool,
) -> bytes::Bytes {
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: first_seq + i,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(bytes::Bytes::from(format!("{first_seq}+{i}"))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = bytes::BytesMut::new();
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

/// A Produce request (acks=all, 30 s timeout) of `records` to partition 0 of `topic`, inside
/// the transaction of `transactional_id` when one is given.
pub fn produce_request(
    topic: &str,
    transactional_id: Option<&str>,
    records: Bytes,
) -> kafka_protocol::messages::ProduceRequest {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::{ProduceRequest, TopicName, TransactionalId};
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(records);
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.transactional_id =
        transactional_id.map(|id| TransactionalId(StrBytes::from_string(id.to_string())));
    req.acks = -1;
    req.timeout_ms = 30_000;
    req.topic_data = vec![t];
    req
}

/// Produce v9 of [`produce_request`]: (error code, base offset) of partition 0's answer, or the
/// I/O error when the connection failed (a broker that stopped).
pub fn try_produce(
    c: &mut RawClient,
    topic: &str,
    transactional_id: Option<&str>,
    records: Bytes,
) -> std::io::Result<(i16, i64)> {
    use kafka_protocol::messages::ProduceResponse;
    let req = produce_request(topic, transactional_id, records);
    let resp: ProduceResponse = c.try_call(ApiKey::Produce, 9, &req)?;
    let p = &resp.responses[0].partition_responses[0];
    Ok((p.error_code, p.base_offset))
}

/// InitProducerId v4 without a transactional id (an idempotent producer): the answer.
pub fn init_idempotent_producer(
    c: &mut RawClient,
) -> kafka_protocol::messages::InitProducerIdResponse {
    use kafka_protocol::messages::InitProducerIdRequest;
    let req = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60_000);
    c.call(ApiKey::InitProducerId, 4, &req)
}
