//! `--report-interval SECS`: every SECS seconds, one line on stderr with the records/s and the
//! latency percentiles of that interval alone, also kept for the JSON result (`intervals`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::common::Progress;
use super::report::{self, round3, Latency};

/// The `--report-interval` option.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Every SECS seconds print the last interval's rate and p50/p99 latency on stderr (also with
    /// --json, whose result then lists every interval under `intervals`).
    #[arg(long = "report-interval", value_name = "SECS")]
    pub report_interval: Option<f64>,
}

/// Records counted and latencies recorded since the last interval line; shared between the
/// thread that measures and the one that reports.
pub struct Window {
    inner: Mutex<(u64, Histogram<u64>)>,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            inner: Mutex::new((0, report::new_histogram())),
        }
    }
}

impl Window {
    /// Count one record with latency `d`.
    pub fn record(&self, d: Duration) {
        let mut w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        w.0 += 1;
        report::record(&mut w.1, d);
    }

    /// Count `n` records whose latencies `h` holds.
    pub fn add(&self, n: u64, h: &Histogram<u64>) {
        let mut w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        w.0 += n;
        let _ = w.1.add(h);
    }

    /// The records and latency histogram since the last call, leaving the window empty.
    pub fn take(&self) -> (u64, Histogram<u64>) {
        let mut w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let n = std::mem::take(&mut w.0);
        let h = w.1.clone();
        w.1.reset();
        (n, h)
    }
}

/// The interval reporter of one run.
pub struct Intervals {
    every: Option<Duration>,
    origin: Instant,
    last: Instant,
    rows: Vec<Value>,
}

impl Intervals {
    /// A reporter for `args` whose times count from now (nothing is printed without
    /// `--report-interval`).
    pub fn new(args: &LiveArgs) -> Intervals {
        let now = Instant::now();
        Intervals {
            every: args
                .report_interval
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64),
            origin: now,
            last: now,
            rows: Vec::new(),
        }
    }

    /// When an interval is over, print its line (`what`: e.g. "acked", "received") from the
    /// records and latencies that `take` empties out of their window(s), and keep it for the JSON result.
    pub fn tick(
        &mut self,
        take: impl FnOnce() -> (u64, Histogram<u64>),
        progress: &Progress,
        what: &str,
    ) {
        let Some(every) = self.every else { return };
        if self.last.elapsed() < every {
            return;
        }
        self.flush(take, progress, what);
    }

    /// Print the (possibly partial) last interval.
    pub fn flush(
        &mut self,
        take: impl FnOnce() -> (u64, Histogram<u64>),
        progress: &Progress,
        what: &str,
    ) {
        if self.every.is_none() {
            return;
        }
        let secs = self.last.elapsed().as_secs_f64();
        self.last = Instant::now();
        let (n, h) = take();
        let row = interval_row(self.origin.elapsed().as_secs_f64(), secs, n, &h);
        progress.println(&interval_text(&row, what));
        self.rows.push(row);
    }

    /// Every interval printed so far, as JSON (`t_secs`, `records`, `records_per_sec`,
    /// `latency_ms`).
    pub fn into_json(self) -> Option<Value> {
        self.every.map(|_| Value::Array(self.rows))
    }
}

/// One interval as JSON: its end (`t` seconds since the start), length, count and latency.
pub fn interval_row(t: f64, secs: f64, records: u64, h: &Histogram<u64>) -> Value {
    let rate = if secs > 0.0 {
        records as f64 / secs
    } else {
        0.0
    };
    json!({
        "t_secs": round3(t),
        "records": records,
        "records_per_sec": round3(rate),
        "latency_ms": Latency::from_histogram(h).to_json(),
    })
}

/// `[  5.0 s] 123,456 rec/s acked, p50 1.20 ms, p99 3.40 ms, max 9.00 ms`.
pub fn interval_text(row: &Value, what: &str) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let l = &row["latency_ms"];
    format!(
        "[{:7.1} s] {:>12} rec/s {what}, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        f(&row["t_secs"]),
        thousands(f(&row["records_per_sec"]).round() as u64),
        f(&l["p50"]),
        f(&l["p99"]),
        f(&l["max"])
    )
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_reports_and_resets() {
        let w = Window::default();
        for ms in 1..=100u64 {
            w.record(Duration::from_millis(ms));
        }
        let (n, h) = w.take();
        assert_eq!(n, 100);
        let row = interval_row(2.0, 0.5, n, &h);
        assert_eq!(row["records_per_sec"], 200.0);
        assert!((row["latency_ms"]["p99"].as_f64().unwrap() - 99.0).abs() < 0.1);
        let text = interval_text(&row, "acked");
        assert!(text.contains("200 rec/s acked"), "{text}");
        assert!(text.contains("p99 99.0"), "{text}");
        let (n, h) = w.take();
        assert_eq!((n, h.len()), (0, 0));
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
