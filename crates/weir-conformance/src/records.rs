//! Record sets in fetch responses compared by content: each batch's records as
//! `offset/timestamp/key/value-length` instead of raw bytes (whose partition leader epoch and
//! framing may legitimately differ).

use bytes::Bytes;
use kafka_protocol::messages::ResponseKind;
use kafka_protocol::records::RecordBatchDecoder;

fn summarise(records: &mut Option<Bytes>) {
    let Some(raw) = records.as_ref() else { return };
    let mut buf = raw.clone();
    let text = match RecordBatchDecoder::decode_all(&mut buf) {
        Ok(sets) => sets
            .iter()
            .flat_map(|s| s.records.iter())
            .map(|r| {
                format!(
                    "{}@{}:{}={}B{}",
                    r.offset,
                    r.timestamp,
                    r.key
                        .as_ref()
                        .map_or("-".to_string(), |k| String::from_utf8_lossy(k).into_owned()),
                    r.value.as_ref().map_or(0, |v| v.len()),
                    if r.control { " control" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(" "),
        Err(e) => format!("{} undecodable bytes ({e})", raw.len()),
    };
    *records = Some(Bytes::from(text));
}

/// Replace the record bytes of a Fetch or ShareFetch response by their summary.
pub fn summarise_response(resp: &mut ResponseKind) {
    match resp {
        ResponseKind::Fetch(f) => f
            .responses
            .iter_mut()
            .flat_map(|t| t.partitions.iter_mut())
            .for_each(|p| summarise(&mut p.records)),
        ResponseKind::ShareFetch(f) => f
            .responses
            .iter_mut()
            .flat_map(|t| t.partitions.iter_mut())
            .for_each(|p| summarise(&mut p.records)),
        _ => {}
    }
}
