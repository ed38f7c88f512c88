//! Tables and JSON of `weir groups describe` (and the column printer shared with reset-offsets).

use super::info::{GroupInfo, Row};

/// The describe result as one JSON object.
pub(super) fn print_json(group: &str, info: &GroupInfo, rows: &[Row]) {
    let members: Vec<_> = info.members.iter().map(|m| serde_json::json!({
        "member_id": m.id, "client_id": m.client_id, "host": m.host,
        "assignment": m.assignment.iter().map(|(t, ps)| serde_json::json!({"topic": t, "partitions": ps})).collect::<Vec<_>>(),
    })).collect();
    let offsets: Vec<_> = rows
        .iter()
        .map(|r| {
            let m = r.owner.map(|i| &info.members[i]);
            serde_json::json!({
                "topic": r.topic, "partition": r.partition, "current_offset": r.current,
                "log_end_offset": r.end, "lag": r.current.map(|c| r.end - c),
                "consumer_id": m.map(|m| &m.id), "host": m.map(|m| &m.host),
                "client_id": m.map(|m| &m.client_id),
            })
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({"group": group, "state": info.state, "protocol_type": info.protocol_type,
            "protocol": info.protocol, "members": members, "offsets": offsets})
    );
}

/// The describe result as a header line and a `kafka-consumer-groups.sh`-style table.
pub(super) fn print_table(group: &str, info: &GroupInfo, rows: &[Row]) {
    let proto = match (info.protocol_type.as_str(), info.protocol.as_str()) {
        ("", "") => "-".to_string(),
        (t, "") => t.to_string(),
        (t, p) => format!("{t}/{p}"),
    };
    println!(
        "Group: {group}  State: {}  Protocol: {proto}  Members: {}",
        info.state,
        info.members.len()
    );
    if info.members.is_empty() {
        println!("Consumer group '{group}' has no active members.");
    }
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
    let mut table: Vec<[String; 9]> = vec![[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]
    .map(String::from)];
    for r in rows {
        let m = r.owner.map(|i| &info.members[i]);
        table.push([
            group.to_string(),
            r.topic.clone(),
            r.partition.to_string(),
            opt(r.current),
            r.end.to_string(),
            opt(r.current.map(|c| r.end - c)),
            m.map_or("-".to_string(), |m| dash(&m.id)),
            m.map_or("-".to_string(), |m| dash(&m.host)),
            m.map_or("-".to_string(), |m| dash(&m.client_id)),
        ]);
    }
    // Members without partitions still show up, as in Kafka's tool.
    for (i, m) in info.members.iter().enumerate() {
        if !rows.iter().any(|r| r.owner == Some(i)) {
            let mut row = ["-"; 9].map(String::from);
            row[0] = group.to_string();
            row[6] = dash(&m.id);
            row[7] = dash(&m.host);
            row[8] = dash(&m.client_id);
            table.push(row);
        }
    }
    print_columns(&table);
}

/// Left-aligned columns, two spaces apart.
pub(super) fn print_columns<const N: usize>(table: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in table {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
