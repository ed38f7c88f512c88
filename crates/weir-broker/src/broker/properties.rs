//! Kafka's per-log-dir identity file `meta.properties`: the cluster id (generated once) and the
//! node id it belongs to.

use std::path::Path;

use tracing::info;

use crate::config::parse::parse_properties;
use crate::error::BrokerError;

/// File name of Kafka's per-log-dir identity file.
pub const META_PROPERTIES: &str = "meta.properties";

/// Read `meta.properties` (Kafka format) or create it with a fresh cluster id; returns the
/// cluster id. A file naming another node id is an error, as in Kafka.
pub fn load_or_create_meta(log_dir: &Path, node_id: i32) -> Result<String, BrokerError> {
    let path = log_dir.join(META_PROPERTIES);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let props = parse_properties(&text);
            let get = |k: &str| {
                props
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            if let Some(stored) = get("node.id").or_else(|| get("broker.id")) {
                if stored.trim() != node_id.to_string() {
                    return Err(BrokerError::Config(format!(
                        "{} has node.id={stored} but this broker is node.id={node_id}",
                        path.display()
                    )));
                }
            }
            match get("cluster.id") {
                Some(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
                _ => Err(BrokerError::Config(format!(
                    "{} has no cluster.id",
                    path.display()
                ))),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cluster_id = new_cluster_id();
            let text = format!(
                "#\n#Written by Weir\nnode.id={node_id}\nversion=1\ncluster.id={cluster_id}\n"
            );
            weir_log::checkpoint::write_atomic(&path, text.as_bytes())?;
            info!(%cluster_id, "formatted new log dir {}", log_dir.display());
            Ok(cluster_id)
        }
        Err(e) => Err(e.into()),
    }
}

/// A Kafka-style cluster id: a random UUID as 22 characters of unpadded base64url.
pub fn new_cluster_id() -> String {
    base64url_nopad(uuid::Uuid::new_v4().as_bytes())
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
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_22_chars_of_base64url() {
        let id = new_cluster_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(id, new_cluster_id());
    }

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url_nopad(b"f"), "Zg");
        assert_eq!(base64url_nopad(b"fo"), "Zm8");
        assert_eq!(base64url_nopad(b"foo"), "Zm9v");
        assert_eq!(base64url_nopad(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn meta_properties_round_trip_and_node_id_check() {
        let dir = tempfile::tempdir().unwrap();
        let id = load_or_create_meta(dir.path(), 1).unwrap();
        let text = std::fs::read_to_string(dir.path().join(META_PROPERTIES)).unwrap();
        assert!(text.contains("version=1"));
        assert!(text.contains(&format!("cluster.id={id}")));
        assert_eq!(load_or_create_meta(dir.path(), 1).unwrap(), id);
        assert!(matches!(
            load_or_create_meta(dir.path(), 2),
            Err(BrokerError::Config(_))
        ));
    }
}
