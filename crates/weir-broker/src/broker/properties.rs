//! Kafka's per-log-dir identity file `meta.properties` (`version=1`, `node.id`, `cluster.id`,
//! `directory.id`): reading and writing it, `weir format`'s rules, and Kafka-style uuids.

use std::path::{Path, PathBuf};

use crate::config::parse::parse_properties;
use crate::error::BrokerError;

/// File name of Kafka's per-log-dir identity file.
pub const META_PROPERTIES: &str = "meta.properties";

/// The header comment of files Weir writes (Kafka writes `#` and a date line).
const HEADER: &str = "#\n#Written by Weir\n";

/// The contents of a `meta.properties` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    /// `node.id` (or the pre-KRaft `broker.id`).
    pub node_id: i32,
    /// `cluster.id`.
    pub cluster_id: String,
    /// `directory.id` (Kafka 3.7+); `None` in files written by Weir before `weir format`
    /// existed, whose cluster id was generated per node and is replaced by the quorum's.
    pub directory_id: Option<String>,
}

impl MetaProperties {
    /// A new file's contents for this node and cluster, with a fresh directory id.
    pub fn new(node_id: i32, cluster_id: &str) -> Self {
        MetaProperties {
            node_id,
            cluster_id: cluster_id.to_string(),
            directory_id: Some(random_uuid()),
        }
    }

    /// Parse Kafka's format; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, BrokerError> {
        let props = parse_properties(text);
        let get = |k: &str| {
            props
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.trim().to_string())
        };
        let bad = |what: String| BrokerError::Config(format!("{}: {what}", path.display()));
        if let Some(v) = get("version") {
            if v != "0" && v != "1" {
                return Err(bad(format!("unsupported version={v}")));
            }
        }
        let node = get("node.id")
            .or_else(|| get("broker.id"))
            .ok_or_else(|| bad("no node.id".into()))?;
        let node_id = node
            .parse()
            .map_err(|_| bad(format!("node.id={node} is not a number")))?;
        let cluster_id = get("cluster.id")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| bad("no cluster.id".into()))?;
        Ok(MetaProperties {
            node_id,
            cluster_id,
            directory_id: get("directory.id").filter(|d| !d.is_empty()),
        })
    }

    /// Kafka's layout: a `#` comment header, then `node.id`, `directory.id`, `version=1`,
    /// `cluster.id`.
    pub fn render(&self) -> String {
        let mut out = format!("{HEADER}node.id={}\n", self.node_id);
        if let Some(d) = &self.directory_id {
            out.push_str(&format!("directory.id={d}\n"));
        }
        out.push_str(&format!("version=1\ncluster.id={}\n", self.cluster_id));
        out
    }

    /// Read `<dir>/meta.properties`; `None` when the dir is not formatted.
    pub fn read(dir: &Path) -> Result<Option<Self>, BrokerError> {
        let path = dir.join(META_PROPERTIES);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Write `<dir>/meta.properties` atomically (temporary file, fsync, rename).
    pub fn write(&self, dir: &Path) -> Result<(), BrokerError> {
        weir_log::checkpoint::write_atomic(&dir.join(META_PROPERTIES), self.render().as_bytes())?;
        Ok(())
    }

    /// True for a file written by Weir before `weir format` existed (no `directory.id`): its
    /// cluster id was made up by this node alone, so the quorum's id replaces it.
    pub fn is_legacy(&self) -> bool {
        self.directory_id.is_none()
    }
}

/// Read `<dir>/meta.properties` and refuse one that names another node id (as Kafka does).
pub fn read_for_node(dir: &Path, node_id: i32) -> Result<Option<MetaProperties>, BrokerError> {
    let meta = MetaProperties::read(dir)?;
    if let Some(m) = &meta {
        if m.node_id != node_id {
            return Err(BrokerError::Config(format!(
                "{} has node.id={} but this broker is node.id={node_id}",
                dir.join(META_PROPERTIES).display(),
                m.node_id
            )));
        }
    }
    Ok(meta)
}

/// What [`format`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Formatted {
    /// `meta.properties` was written.
    Written(PathBuf),
    /// The dir already had this node's `meta.properties` with this cluster id
    /// (`--ignore-formatted`).
    AlreadyFormatted(PathBuf),
}

/// `weir format` (like `kafka-storage.sh format`): write `meta.properties` for `cluster_id` and
/// `node_id` into `dir` (created if missing). A dir that already has one is refused, unless it
/// is identical in node and cluster id and `ignore_formatted` is set.
pub fn format(
    dir: &Path,
    cluster_id: &str,
    node_id: i32,
    ignore_formatted: bool,
) -> Result<Formatted, BrokerError> {
    check_cluster_id(cluster_id)?;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(META_PROPERTIES);
    if let Some(have) = MetaProperties::read(dir)? {
        let same = have.cluster_id == cluster_id && have.node_id == node_id;
        return match (same, ignore_formatted) {
            (true, true) => Ok(Formatted::AlreadyFormatted(path)),
            (true, false) => Err(BrokerError::Config(format!(
                "log directory {} is already formatted (cluster.id={cluster_id}); use \
                 --ignore-formatted to accept it",
                dir.display()
            ))),
            (false, _) => Err(BrokerError::Config(format!(
                "log directory {} is already formatted with cluster.id={} node.id={} ({}); \
                 refusing to format it for cluster.id={cluster_id} node.id={node_id}",
                dir.display(),
                have.cluster_id,
                have.node_id,
                path.display()
            ))),
        };
    }
    MetaProperties::new(node_id, cluster_id).write(dir)?;
    Ok(Formatted::Written(path))
}

/// Kafka's rule for a cluster id: a uuid as 22 characters of unpadded base64url.
pub fn check_cluster_id(id: &str) -> Result<(), BrokerError> {
    let ok = id.len() == 22
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        // The last character carries 2 bits of the uuid and 4 zero bits.
        && id.ends_with(['A', 'Q', 'g', 'w']);
    if ok {
        Ok(())
    } else {
        Err(BrokerError::Config(format!(
            "cluster id {id:?} is not a valid uuid (22 characters of base64url, as `weir \
             random-uuid` prints)"
        )))
    }
}

/// A Kafka-style uuid (`kafka-storage.sh random-uuid`): a random uuid as 22 characters of
/// unpadded base64url.
pub fn random_uuid() -> String {
    base64url_nopad(uuid::Uuid::new_v4().as_bytes())
}

/// A fresh cluster id (a [`random_uuid`]).
pub fn new_cluster_id() -> String {
    random_uuid()
}

fn base64url_nopad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

#[cfg(test)]
#[path = "properties_tests.rs"]
mod tests;
