//! Normalising a response for comparison: its pretty `Debug` rendering parsed into a tree,
//! fields that legitimately differ between brokers masked by name, lists sorted (brokers answer
//! from hash maps), error codes named, then flattened into `path = value` lines and diffed.

use kafka_protocol::error::ResponseError;

/// Field names whose values legitimately differ between two brokers: ids, uuids, timestamps,
/// throttling, node ids / hosts / ports, cluster ids, error messages' wording, log dir paths and
/// their volumes' sizes.
pub const MASKED: &[&str] = &[
    "throttle_time_ms",
    "cluster_id",
    "controller_id",
    "node_id",
    "broker_id",
    "host",
    "port",
    "rack",
    "leader_id",
    "replica_nodes",
    "isr_nodes",
    "replicas",
    "adding_replicas",
    "removing_replicas",
    "brokers",
    "node_endpoints",
    "topic_id",
    "member_id",
    "leader",
    "error_message",
    "producer_id",
    "session_id",
    "transaction_start_time_ms",
    "last_timestamp",
    "coordinator_epoch",
    // Where each broker keeps its data, and the size of the volume it is on.
    "log_dir",
    "total_bytes",
    "usable_bytes",
];

/// A parsed `{:#?}` rendering.
#[derive(Debug, Clone)]
enum Node {
    Leaf(String),
    /// `header` is the type name or `Some`; `open` one of `{`, `[`, `(`.
    Branch {
        header: String,
        open: char,
        children: Vec<(Option<String>, Node)>,
    },
}

fn split_name(line: &str) -> (Option<String>, &str) {
    if let Some(i) = line.find(": ") {
        let name = &line[..i];
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return (Some(name.to_string()), &line[i + 2..]);
        }
    }
    (None, line)
}

fn parse_children<'a>(lines: &mut impl Iterator<Item = &'a str>) -> Vec<(Option<String>, Node)> {
    let mut out = Vec::new();
    while let Some(raw) = lines.next() {
        let line = raw.trim();
        let line = line.strip_suffix(',').unwrap_or(line);
        if matches!(line, "}" | "]" | ")") {
            break;
        }
        let (name, rest) = split_name(line);
        out.push((name, parse_value(rest, lines)));
    }
    out
}

fn parse_value<'a>(rest: &str, lines: &mut impl Iterator<Item = &'a str>) -> Node {
    match rest.chars().last() {
        Some(open @ ('{' | '[' | '(')) if !rest.starts_with('"') && !rest.starts_with("b\"") => {
            Node::Branch {
                header: rest[..rest.len() - 1].trim().to_string(),
                open,
                children: parse_children(lines),
            }
        }
        _ => Node::Leaf(rest.to_string()),
    }
}

fn parse(debug: &str) -> Node {
    let mut lines = debug.lines();
    let first = lines.next().unwrap_or("").trim();
    parse_value(first, &mut lines)
}

fn clean(node: Node, name: Option<&str>, extra: &[&str]) -> Node {
    if let Some(n) = name {
        if MASKED.contains(&n) || extra.contains(&n) {
            return Node::Leaf("<masked>".to_string());
        }
    }
    match node {
        Node::Leaf(v) if name.is_some_and(|n| n.ends_with("error_code")) => {
            let named = v
                .parse::<i16>()
                .ok()
                .and_then(|c| ResponseError::try_from_code(c).map(|e| format!("{c} ({e:?})")));
            Node::Leaf(named.unwrap_or(v))
        }
        Node::Leaf(v) => Node::Leaf(v),
        Node::Branch {
            header,
            open,
            children,
        } => {
            let mut children: Vec<(Option<String>, Node)> = children
                .into_iter()
                .map(|(n, c)| {
                    let c = clean(c, n.as_deref(), extra);
                    (n, c)
                })
                .collect();
            if open == '[' {
                children.sort_by_cached_key(|(n, c)| format!("{n:?}{}", render(c)));
            }
            Node::Branch {
                header,
                open,
                children,
            }
        }
    }
}

fn render(node: &Node) -> String {
    match node {
        Node::Leaf(v) => v.clone(),
        Node::Branch {
            header, children, ..
        } => {
            let inner: Vec<String> = children
                .iter()
                .map(|(n, c)| match n {
                    Some(n) => format!("{n}:{}", render(c)),
                    None => render(c),
                })
                .collect();
            format!("{header}{{{}}}", inner.join(","))
        }
    }
}

fn flatten(node: &Node, path: &str, out: &mut Vec<(String, String)>) {
    match node {
        Node::Leaf(v) => out.push((path.to_string(), v.clone())),
        Node::Branch {
            header,
            open,
            children,
        } => {
            match open {
                '[' => out.push((format!("{path}.len"), children.len().to_string())),
                _ if header == "Some" => out.push((path.to_string(), "Some".to_string())),
                _ => {}
            }
            for (i, (name, child)) in children.iter().enumerate() {
                let p = match (name, open) {
                    (Some(n), _) if path.is_empty() => n.clone(),
                    (Some(n), _) => format!("{path}.{n}"),
                    (None, '[') => format!("{path}[{i}]"),
                    (None, _) if children.len() == 1 => path.to_string(),
                    (None, _) => format!("{path}.{i}"),
                };
                flatten(child, &p, out);
            }
        }
    }
}

/// `debug` (a `{:#?}` rendering) normalised into `path = value` lines; `extra` masks more
/// field names for one request shape.
pub fn normalise(debug: &str, extra: &[&str]) -> Vec<(String, String)> {
    let tree = clean(parse(debug), None, extra);
    let mut out = Vec::new();
    flatten(&tree, "", &mut out);
    out
}

/// How two normalised renderings differ.
#[derive(Debug, PartialEq)]
pub struct Diff {
    /// The first difference (`path: kafka=… weir=…`).
    pub first: String,
    /// How many lines of either have no equal in the other.
    pub lines: usize,
    /// Those lines (`kafka path = value` / `weir path = value`), at most [`DETAIL_LINES`].
    pub detail: Vec<String>,
}

/// How many differing lines a [`Diff`] keeps.
pub const DETAIL_LINES: usize = 40;

/// How `kafka` and `weir` differ; None when they are equal.
pub fn diff(kafka: &[(String, String)], weir: &[(String, String)]) -> Option<Diff> {
    let first = kafka
        .iter()
        .zip(weir.iter())
        .find(|(k, w)| k != w)
        .map(|(k, w)| {
            if k.0 == w.0 {
                format!("{}: kafka={} weir={}", k.0, k.1, w.1)
            } else {
                format!("kafka {}={} / weir {}={}", k.0, k.1, w.0, w.1)
            }
        })
        .or_else(|| match kafka.len().cmp(&weir.len()) {
            std::cmp::Ordering::Equal => None,
            std::cmp::Ordering::Greater => {
                let k = &kafka[weir.len()];
                Some(format!("{}: kafka={} weir=<absent>", k.0, k.1))
            }
            std::cmp::Ordering::Less => {
                let w = &weir[kafka.len()];
                Some(format!("{}: kafka=<absent> weir={}", w.0, w.1))
            }
        })?;
    let only_k: Vec<String> = kafka
        .iter()
        .filter(|l| !weir.contains(l))
        .map(|(p, v)| format!("kafka {p} = {v}"))
        .collect();
    let only_w: Vec<String> = weir
        .iter()
        .filter(|l| !kafka.contains(l))
        .map(|(p, v)| format!("weir  {p} = {v}"))
        .collect();
    let lines = only_k.len() + only_w.len();
    let detail = only_k
        .into_iter()
        .chain(only_w)
        .take(DETAIL_LINES)
        .collect();
    Some(Diff {
        first,
        lines,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{MetadataResponse, MetadataResponseBroker};

    fn lines(r: &MetadataResponse) -> Vec<(String, String)> {
        normalise(&format!("{r:#?}"), &[])
    }

    #[test]
    fn masks_ids_and_finds_the_first_difference() {
        let mut a = MetadataResponse::default();
        a.brokers = vec![MetadataResponseBroker::default().with_port(9092)];
        a.cluster_id = Some("abc".into());
        let mut b = a.clone();
        b.brokers[0].port = 1234;
        b.cluster_id = Some("xyz".into());
        assert_eq!(diff(&lines(&a), &lines(&b)), None);
        b.controller_id = kafka_protocol::messages::BrokerId(7);
        assert_eq!(diff(&lines(&a), &lines(&b)), None);
        b.cluster_authorized_operations = 5;
        let d = diff(&lines(&a), &lines(&b)).expect("a difference");
        assert!(
            d.first.starts_with("cluster_authorized_operations:"),
            "{}",
            d.first
        );
        assert_eq!(d.lines, 2);
        assert_eq!(d.detail.len(), 2);
    }

    #[test]
    fn names_error_codes_and_ignores_list_order() {
        use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
        let t = |code: i16, name: &'static str| {
            MetadataResponseTopic::default()
                .with_error_code(code)
                .with_name(Some(kafka_protocol::messages::TopicName(
                    kafka_protocol::protocol::StrBytes::from_static_str(name),
                )))
        };
        let mut a = MetadataResponse::default();
        a.topics = vec![t(0, "x"), t(3, "y")];
        let mut b = a.clone();
        b.topics.reverse();
        assert_eq!(diff(&lines(&a), &lines(&b)), None);
        b.topics[0].error_code = 0;
        let d = diff(&lines(&a), &lines(&b)).expect("a difference");
        assert!(d.first.contains("UnknownTopicOrPartition"), "{}", d.first);
    }
}
