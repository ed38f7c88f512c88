//! The transactional workload with the Java client (issue #19: the history checker on both
//! protocol generations). The Java program `weir.TxnHistory` (`tests/java`, kafka-clients 4.x,
//! transaction version 2 against Weir) runs the same workload as [`crate::txn_workload`] — P
//! transactional producers writing unique values `p{i}-t{n}-{k}`, C READ_COMMITTED consumers —
//! as a subprocess, writing its history as JSON lines; [`JavaWorkload`] drives it over its
//! standard input and reads that file back into a [`crate::txn_check::History`].
//!
//! The classpath is `WEIR_JAVA_CLASSPATH`, else the jar and `lib/` that
//! `mvn -B -f tests/java/pom.xml package -DskipTests` leaves under `tests/java/target`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::txn_check::{Outcome, Read, Tp, Txn, Write};
use crate::txn_workload::TxnConfig;
use crate::workload::lock;

/// Which client library runs the transactional workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxnClient {
    /// librdkafka through the rdkafka crate ([`crate::txn_workload`]; the default).
    #[default]
    Rdkafka,
    /// The Java client (`weir.TxnHistory`), with KIP-890 transactions (transaction version 2).
    Java,
}

impl TxnClient {
    /// The `--client` name.
    pub fn name(self) -> &'static str {
        match self {
            TxnClient::Rdkafka => "rdkafka",
            TxnClient::Java => "java",
        }
    }

    /// Parse a `--client` name.
    pub fn parse(s: &str) -> Option<TxnClient> {
        [TxnClient::Rdkafka, TxnClient::Java]
            .into_iter()
            .find(|k| k.name() == s)
    }

    /// The replay command's flag for this client (empty for the default).
    pub fn flag(self) -> String {
        match self {
            TxnClient::Rdkafka => String::new(),
            c => format!(" --client {}", c.name()),
        }
    }
}

/// The main class of the Java workload.
pub const MAIN_CLASS: &str = "weir.TxnHistory";

/// How to build the Java workload, for error messages.
pub const BUILD_HINT: &str =
    "build it with `mvn -q -B -f tests/java/pom.xml package -DskipTests` (or set WEIR_JAVA_CLASSPATH)";

/// The classpath of the Java workload: `WEIR_JAVA_CLASSPATH`, else `tests/java/target/*.jar`
/// and `tests/java/target/lib/*` of this workspace (the jar must hold `weir/TxnHistory.class`).
pub fn java_classpath() -> Result<String, String> {
    if let Some(cp) = std::env::var_os("WEIR_JAVA_CLASSPATH") {
        return Ok(cp.to_string_lossy().into_owned());
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/java/target");
    let jar = target.join("weir-java-clients-0.1.0.jar");
    let lib = target.join("lib");
    let bytes = std::fs::read(&jar)
        .map_err(|e| format!("no Java workload jar {}: {e}; {BUILD_HINT}", jar.display()))?;
    // A zip's central directory names its entries uncompressed.
    let name = b"weir/TxnHistory.class";
    if !bytes.windows(name.len()).any(|w| w == name) {
        return Err(format!(
            "{} has no {MAIN_CLASS}: it predates it; {BUILD_HINT}",
            jar.display()
        ));
    }
    if !lib.join("kafka-clients-4.4.0.jar").is_file() {
        return Err(format!(
            "no kafka-clients jar in {}; {BUILD_HINT}",
            lib.display()
        ));
    }
    Ok(format!("{}:{}/*", jar.display(), lib.display()))
}

/// The `java` executable (`JAVA`, else `java` on the PATH), checked by running `java -version`.
pub fn java_binary() -> Result<PathBuf, String> {
    let java = std::env::var_os("JAVA").map_or_else(|| PathBuf::from("java"), PathBuf::from);
    match Command::new(&java).arg("-version").output() {
        Ok(o) if o.status.success() => Ok(java),
        Ok(o) => Err(format!(
            "`{} -version` failed: {}",
            java.display(),
            o.status
        )),
        Err(e) => Err(format!(
            "cannot run `{}` (a JDK 17+ is needed for the Java workload): {e}",
            java.display()
        )),
    }
}

/// What has been read of the history file so far.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Bytes of the file consumed (whole lines only).
    offset: u64,
    /// Every finished transaction.
    pub txns: Vec<Txn>,
    /// Per consumer, its reads in order.
    pub consumers: Vec<Vec<Read>>,
    /// The program's notes (unknown outcomes, client errors).
    pub notes: Vec<String>,
    /// Transactions committed.
    pub committed: u64,
    /// The producers have all stopped (and fenced their dangling transactions).
    pub producers_stopped: bool,
    /// The program finished writing the history.
    pub done: bool,
    /// Lines that could not be parsed (up to 5 kept as notes).
    pub bad_lines: usize,
}

impl Parsed {
    /// Take in one JSON line of the history.
    pub fn line(&mut self, line: &str) {
        if let Err(e) = self.parse(line) {
            self.bad_lines += 1;
            if self.bad_lines <= 5 {
                self.notes.push(format!("bad history line {line:?}: {e}"));
            }
        }
    }

    fn parse(&mut self, line: &str) -> Result<(), String> {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let s = |k: &str| v[k].as_str().ok_or(format!("no string {k}"));
        let n = |k: &str| v[k].as_i64().ok_or(format!("no number {k}"));
        match s("type")? {
            "txn" => {
                let mut writes = Vec::new();
                for w in v["writes"].as_array().ok_or("no writes")? {
                    match (w[0].as_str(), w[1].as_i64(), w[2].as_str()) {
                        (Some(t), Some(p), Some(value)) => writes.push(Write {
                            tp: (t.to_string(), p as i32),
                            value: value.to_string(),
                        }),
                        _ => return Err(format!("bad write {w}")),
                    }
                }
                let outcome = match s("outcome")? {
                    "committed" => Outcome::Committed,
                    "aborted" => Outcome::Aborted,
                    "unknown" => Outcome::Unknown(s("reason").unwrap_or_default().to_string()),
                    o => return Err(format!("bad outcome {o}")),
                };
                if outcome == Outcome::Committed {
                    self.committed += 1;
                }
                self.txns.push(Txn {
                    producer: n("producer")? as usize,
                    seq: n("seq")? as u64,
                    writes,
                    outcome,
                });
            }
            "read" => {
                let c = n("consumer")? as usize;
                if self.consumers.len() <= c {
                    self.consumers.resize_with(c + 1, Vec::new);
                }
                self.consumers[c].push(Read {
                    tp: (s("topic")?.to_string(), n("partition")? as i32),
                    offset: n("offset")?,
                    value: s("value")?.to_string(),
                });
            }
            "note" => self.notes.push(format!("java: {}", s("text")?)),
            "producers-stopped" => self.producers_stopped = true,
            "done" => self.done = true,
            t => return Err(format!("unknown type {t}")),
        }
        Ok(())
    }

    /// Read the whole lines appended to `path` since the last call.
    fn follow(&mut self, path: &Path) {
        let Ok(mut f) = File::open(path) else { return };
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(self.offset)).is_err() || f.read_to_end(&mut buf).is_err() {
            return;
        }
        let Some(end) = buf.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        self.offset += end as u64 + 1;
        for l in String::from_utf8_lossy(&buf[..end]).lines() {
            if !l.trim().is_empty() {
                self.line(l);
            }
        }
    }
}

/// The running Java workload: the subprocess, its history file, what was read of it.
pub struct JavaWorkload {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The directory of the history file and the program's standard error.
    dir: Option<tempfile::TempDir>,
    history: PathBuf,
    stderr: PathBuf,
    parsed: Mutex<Parsed>,
}

impl JavaWorkload {
    /// Start `weir.TxnHistory` against `bootstrap` with the topics, partitions, producers and
    /// consumers of `cfg`, driven over its standard input (`max` only bounds its run should
    /// this process vanish).
    pub fn start(
        bootstrap: &str,
        cfg: &TxnConfig,
        seed: u64,
        max: Duration,
    ) -> Result<JavaWorkload, String> {
        let java = java_binary()?;
        let cp = java_classpath()?;
        let dir = tempfile::Builder::new()
            .prefix("weir-chaos-java-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let history = dir.path().join("java-history.jsonl");
        let stderr = dir.path().join("java.stderr");
        let err = File::create(&stderr).map_err(|e| format!("{}: {e}", stderr.display()))?;
        let mut child = Command::new(&java)
            .args([
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-cp",
                &cp,
                MAIN_CLASS,
                bootstrap,
            ])
            .arg(cfg.topics.join(","))
            .arg(cfg.partitions.to_string())
            .arg(cfg.producers.to_string())
            .arg(cfg.consumers.to_string())
            .arg(max.as_secs().to_string())
            .arg(seed.to_string())
            .arg(&history)
            .arg("stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {} {MAIN_CLASS}: {e}", java.display()))?;
        let stdin = child.stdin.take();
        Ok(JavaWorkload {
            child,
            stdin,
            dir: Some(dir),
            history,
            stderr,
            parsed: Mutex::new(Parsed {
                consumers: vec![Vec::new(); cfg.consumers],
                ..Parsed::default()
            }),
        })
    }

    fn follow(&self) -> std::sync::MutexGuard<'_, Parsed> {
        let mut p = lock(&self.parsed);
        p.follow(&self.history);
        p
    }

    /// Transactions committed so far (as far as the history file tells).
    pub fn committed(&self) -> u64 {
        self.follow().committed
    }

    /// The subprocess's exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `n` lines of the subprocess's standard error.
    pub fn stderr_tail(&self, n: usize) -> String {
        let s = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn send(&mut self, command: &str) {
        if let Some(i) = self.stdin.as_mut() {
            // The program may have exited already: then there is nothing to tell it.
            let _ = writeln!(i, "{command}").and_then(|()| i.flush());
        }
    }

    /// Stop the producers after their current transaction (waiting up to `timeout`); returns
    /// every transaction in the history, and an error when they did not stop in time.
    pub fn stop_producers(&mut self, timeout: Duration) -> (Vec<Txn>, Option<String>) {
        self.send("stop-producers");
        let deadline = Instant::now() + timeout;
        let mut err = None;
        while !self.follow().producers_stopped {
            if let Some(st) = self.exited() {
                drop(self.follow());
                err = Some(format!(
                    "the Java workload exited ({st}) before its producers stopped:\n{}",
                    self.stderr_tail(15)
                ));
                break;
            }
            if Instant::now() >= deadline {
                err = Some(format!(
                    "the Java workload's producers did not stop within {timeout:?}:\n{}",
                    self.stderr_tail(15)
                ));
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (lock(&self.parsed).txns.clone(), err)
    }

    /// Wait (up to `timeout`) until every consumer has read up to the last offset of each
    /// partition in `last`, then stop the program (killed if it does not exit within 60 s);
    /// returns the consumers' reads, the notes (a consumer that did not catch up, the
    /// program's own notes, a non-zero exit) and the directory holding `java-history.jsonl` and
    /// `java.stderr` (removed when dropped).
    pub fn finish_consumers(
        mut self,
        last: &BTreeMap<Tp, i64>,
        timeout: Duration,
    ) -> (Vec<Vec<Read>>, Vec<String>, tempfile::TempDir) {
        let mut notes = Vec::new();
        let caught_up = |reads: &[Read]| {
            let mut max: BTreeMap<&Tp, i64> = BTreeMap::new();
            for x in reads {
                let e = max.entry(&x.tp).or_insert(x.offset);
                *e = (*e).max(x.offset);
            }
            last.iter()
                .all(|(tp, o)| max.get(tp).is_some_and(|m| m >= o))
        };
        let all = |s: &Self| s.follow().consumers.iter().all(|r| caught_up(r));
        if !crate::check::eventually(timeout, || all(&self)) {
            let p = self.follow();
            for (i, r) in p.consumers.iter().enumerate() {
                if !caught_up(r) {
                    notes.push(format!("consumer {i} did not read up to the final read's last offsets within {timeout:?}"));
                }
            }
        }
        self.send("stop");
        self.stdin = None;
        let exited = crate::check::eventually(Duration::from_secs(60), || self.exited().is_some());
        match self.exited() {
            Some(st) if st.success() => {}
            Some(st) => notes.push(format!(
                "the Java workload exited with {st}:\n{}",
                self.stderr_tail(15)
            )),
            None => notes.push(format!(
                "the Java workload did not exit within 60 s of `stop` (killed; exited: {exited})"
            )),
        }
        let mut p = std::mem::take(&mut *self.follow());
        if !p.done {
            notes.push("the Java workload's history has no `done` line".into());
        }
        notes.append(&mut p.notes);
        let dir = self.dir.take().expect("the directory is taken only here");
        (p.consumers, notes, dir)
    }
}

impl Drop for JavaWorkload {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_java_history_lines() {
        let mut p = Parsed::default();
        for l in [
            r#"{"type":"txn","producer":1,"seq":3,"writes":[["txn-a",2,"p1-t3-0"]],"outcome":"committed"}"#,
            r#"{"type":"txn","producer":1,"seq":4,"writes":[],"outcome":"unknown","reason":"commit: \"x\""}"#,
            r#"{"type":"read","consumer":1,"topic":"txn-a","partition":2,"offset":7,"value":"p1-t3-0"}"#,
            r#"{"type":"note","text":"hello"}"#,
            r#"{"type":"producers-stopped"}"#,
            r#"{"type":"done","txns":2,"committed":1,"reads":1}"#,
            "not json",
        ] {
            p.line(l);
        }
        assert_eq!(p.committed, 1);
        assert_eq!(p.txns[0].writes[0].tp, ("txn-a".to_string(), 2));
        assert_eq!(p.txns[1].outcome, Outcome::Unknown("commit: \"x\"".into()));
        assert_eq!(p.consumers.len(), 2);
        assert_eq!(p.consumers[1][0].offset, 7);
        assert!(p.producers_stopped && p.done);
        assert_eq!(p.bad_lines, 1);
        assert_eq!(p.notes.len(), 2);
        assert_eq!(TxnClient::parse("java"), Some(TxnClient::Java));
        assert_eq!(TxnClient::Rdkafka.flag(), "");
    }
}
