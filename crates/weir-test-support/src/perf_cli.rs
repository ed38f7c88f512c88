//! Running `weir perf` from integration tests: the process's output, and its one JSON result.

use std::path::Path;
use std::process::{Command, Output};

/// Run `weir perf ARGS -b BOOTSTRAP --timeout-secs 120` with the `weir` binary at `bin`.
pub fn perf(bin: &Path, bootstrap: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .arg("perf")
        .args(args)
        .args(["-b", bootstrap, "--timeout-secs", "120"])
        .output()
        .expect("run weir perf")
}

/// The JSON object a successful `--json` run printed as its only line of stdout (panics with
/// stderr when the run failed, or with stdout when it is not one JSON line).
pub fn json_ok(out: Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}
