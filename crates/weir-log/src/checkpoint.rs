//! Kafka's checkpoint file format: a version line, a count line, then one entry per line.
//! Writes are atomic: temp file, fsync, rename, directory fsync.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::{LogError, TopicPartition};

/// Fsync a directory so renames and creations inside it are durable.
pub fn fsync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Write `contents` to `path` atomically and durably.
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), LogError> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fsync_dir(dir)?;
    }
    Ok(())
}

fn corrupt(path: &Path, reason: impl Into<String>) -> LogError {
    LogError::CorruptFile {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Render a `topic partition offset` checkpoint (version 0).
pub fn render_offsets(entries: &BTreeMap<TopicPartition, i64>) -> String {
    let mut s = format!("0\n{}\n", entries.len());
    for (tp, off) in entries {
        s.push_str(&format!("{} {} {}\n", tp.topic, tp.partition, off));
    }
    s
}

/// Parse a `topic partition offset` checkpoint. A missing file is an empty map.
pub fn read_offsets(path: &Path) -> Result<BTreeMap<TopicPartition, i64>, LogError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(corrupt(path, "not UTF-8 text"))
        }
        Err(e) => return Err(e.into()),
    };
    let rows = parse_body(path, &text)?;
    let mut out = BTreeMap::new();
    for row in rows {
        let parts: Vec<&str> = row.split(' ').collect();
        // Topic names cannot contain spaces, so exactly three fields.
        let [topic, partition, offset] = parts[..] else {
            return Err(corrupt(path, format!("bad entry line {row:?}")));
        };
        let partition = partition
            .parse()
            .map_err(|_| corrupt(path, format!("bad partition in {row:?}")))?;
        let offset = offset
            .parse()
            .map_err(|_| corrupt(path, format!("bad offset in {row:?}")))?;
        out.insert(TopicPartition::new(topic, partition), offset);
    }
    Ok(out)
}

/// Render a `leader-epoch-checkpoint` (`epoch startOffset` lines).
pub fn render_epochs(entries: &[(i32, i64)]) -> String {
    let mut s = format!("0\n{}\n", entries.len());
    for (epoch, start) in entries {
        s.push_str(&format!("{epoch} {start}\n"));
    }
    s
}

/// Parse a `leader-epoch-checkpoint`. A missing file is empty.
pub fn read_epochs(path: &Path) -> Result<Vec<(i32, i64)>, LogError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(corrupt(path, "not UTF-8 text"))
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for row in parse_body(path, &text)? {
        let (e, o) = row
            .split_once(' ')
            .ok_or_else(|| corrupt(path, format!("bad entry line {row:?}")))?;
        let e = e.parse().map_err(|_| corrupt(path, "bad epoch"))?;
        let o = o.parse().map_err(|_| corrupt(path, "bad offset"))?;
        out.push((e, o));
    }
    Ok(out)
}

fn parse_body<'a>(path: &Path, text: &'a str) -> Result<Vec<&'a str>, LogError> {
    let mut lines = text.lines();
    let version = lines.next().ok_or_else(|| corrupt(path, "empty file"))?;
    if version.trim() != "0" {
        return Err(corrupt(path, format!("unsupported version {version:?}")));
    }
    let count: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| corrupt(path, "missing or bad count line"))?;
    let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    if rows.len() != count {
        return Err(corrupt(
            path,
            format!("count line says {count} entries, found {}", rows.len()),
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample written by hand from Kafka's documented format (OffsetCheckpointFile).
    const KAFKA_SAMPLE: &str =
        "0\n3\nelk_log_dev 0 1500\nelk_log_dev 1 42\n__consumer_offsets 17 0\n";

    #[test]
    fn kafka_sample_round_trips_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("recovery-point-offset-checkpoint");
        fs::write(&p, KAFKA_SAMPLE).unwrap();
        let m = read_offsets(&p).unwrap();
        assert_eq!(m[&TopicPartition::new("elk_log_dev", 0)], 1500);
        assert_eq!(m[&TopicPartition::new("__consumer_offsets", 17)], 0);
        // BTreeMap order puts __consumer_offsets first; same content, Kafka does not order lines.
        let rendered = render_offsets(&m);
        assert_eq!(read_offsets_str(&rendered), read_offsets_str(KAFKA_SAMPLE));
        write_atomic(&p, rendered.as_bytes()).unwrap();
        assert_eq!(read_offsets(&p).unwrap(), m);
    }

    fn read_offsets_str(s: &str) -> Vec<String> {
        let mut v: Vec<String> = s.lines().map(String::from).collect();
        v[2..].sort();
        v
    }

    #[test]
    fn epochs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("leader-epoch-checkpoint");
        fs::write(&p, "0\n2\n0 0\n3 120\n").unwrap();
        assert_eq!(read_epochs(&p).unwrap(), vec![(0, 0), (3, 120)]);
        assert_eq!(render_epochs(&[(0, 0), (3, 120)]), "0\n2\n0 0\n3 120\n");
    }

    #[test]
    fn garbage_is_a_clear_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log-start-offset-checkpoint");
        for garbage in [
            &b""[..],
            b"1\n0\n",
            b"0\nx\n",
            b"0\n2\nt 0 1\n",
            b"0\n1\nt zero 1\n",
            b"\xff\xfe\x00",
        ] {
            fs::write(&p, garbage).unwrap();
            assert!(
                matches!(read_offsets(&p), Err(LogError::CorruptFile { .. })),
                "{garbage:?}"
            );
        }
    }
}
