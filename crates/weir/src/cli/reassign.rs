//! `weir topics reassign` and `weir topics reassignments`: partition reassignment (KIP-455)
//! through AlterPartitionReassignments / ListPartitionReassignments. librdkafka has no admin
//! call for these, so they go over a plain connection with the protocol codec (`raw`).

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey, BrokerId,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::admin::TIMEOUT;
use super::raw::{call, failed};

/// One ongoing reassignment: topic, partition, replicas, adding, removing.
type Row = (String, i32, Vec<i32>, Vec<i32>, Vec<i32>);

/// Start a reassignment of `topic`-`partition` to `replicas`, or cancel the one in progress
/// (`replicas` None).
pub fn reassign(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    replicas: Option<&[i32]>,
) -> Result<(), String> {
    let what = match replicas {
        Some(r) => format!("reassign {topic}-{partition} to {r:?}"),
        None => format!("cancel the reassignment of {topic}-{partition}"),
    };
    let mut p = ReassignablePartition::default();
    p.partition_index = partition;
    p.replicas = replicas.map(|r| r.iter().copied().map(BrokerId).collect());
    let mut t = ReassignableTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = vec![p];
    let mut req = AlterPartitionReassignmentsRequest::default();
    req.timeout_ms = TIMEOUT.as_millis() as i32;
    req.topics = vec![t];
    let resp: AlterPartitionReassignmentsResponse =
        call(bootstrap, ApiKey::AlterPartitionReassignments, 0, &req)?;
    if resp.error_code != 0 {
        return Err(failed(&what, resp.error_code, resp.error_message.as_ref()));
    }
    for pr in resp.responses.iter().flat_map(|t| &t.partitions) {
        if pr.error_code != 0 {
            return Err(failed(&what, pr.error_code, pr.error_message.as_ref()));
        }
    }
    match replicas {
        Some(_) => println!("reassignment of {topic}-{partition} started"),
        None => println!("reassignment of {topic}-{partition} cancelled"),
    }
    Ok(())
}

/// Print the reassignments in progress (every partition).
pub fn list(bootstrap: &str, json: bool) -> Result<(), String> {
    let mut req = ListPartitionReassignmentsRequest::default();
    req.timeout_ms = TIMEOUT.as_millis() as i32;
    req.topics = None;
    let resp: ListPartitionReassignmentsResponse =
        call(bootstrap, ApiKey::ListPartitionReassignments, 0, &req)?;
    if resp.error_code != 0 {
        return Err(failed(
            "list reassignments",
            resp.error_code,
            resp.error_message.as_ref(),
        ));
    }
    let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<Vec<i32>>();
    let rows: Vec<Row> = resp
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    ids(&p.replicas),
                    ids(&p.adding_replicas),
                    ids(&p.removing_replicas),
                )
            })
        })
        .collect();
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(t, p, r, a, x)| {
                serde_json::json!({
                    "topic": t, "partition": p, "replicas": r,
                    "adding_replicas": a, "removing_replicas": x,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    let list = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    println!(
        "{:<30}  {:>9}  {:<12}  {:<12}  {:<12}",
        "Topic", "Partition", "Replicas", "Adding", "Removing"
    );
    for (t, p, r, a, x) in &rows {
        println!(
            "{t:<30}  {p:>9}  {:<12}  {:<12}  {:<12}",
            list(r),
            list(a),
            list(x)
        );
    }
    Ok(())
}
