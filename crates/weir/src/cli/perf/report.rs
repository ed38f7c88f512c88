//! Results of a `weir perf` run: throughput, HDR-histogram latency percentiles, and their text
//! (kafka-producer-perf-test style) and JSON renderings.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// A latency histogram in microseconds, 1 µs to 10 minutes, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// Record `d` in `h` (clamped to the histogram's range).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, h.high());
    h.saturating_record(us);
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Mean.
    pub avg: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

impl Latency {
    /// Summarise a microsecond histogram (all zeros when it is empty).
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency {
                avg: 0.0,
                p50: 0.0,
                p95: 0.0,
                p99: 0.0,
                p999: 0.0,
                max: 0.0,
            };
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            avg: h.mean() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }

    /// `{"avg":…,"p50":…,…}` in milliseconds.
    pub fn to_json(self) -> Value {
        json!({
            "avg": round3(self.avg),
            "p50": round3(self.p50),
            "p95": round3(self.p95),
            "p99": round3(self.p99),
            "p99_9": round3(self.p999),
            "max": round3(self.max),
        })
    }

    /// `2.10 ms avg latency, 9.80 ms max latency, 1.9 ms 50th, …` (Kafka's wording).
    pub fn to_text(self) -> String {
        format!(
            "{:.2} ms avg latency, {:.2} ms max latency, {:.2} ms 50th, {:.2} ms 95th, \
             {:.2} ms 99th, {:.2} ms 99.9th",
            self.avg, self.max, self.p50, self.p95, self.p99, self.p999
        )
    }
}

/// How many records and bytes moved in how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Records.
    pub records: u64,
    /// Payload bytes (keys and values).
    pub bytes: u64,
    /// Wall-clock time of the measured phase.
    pub elapsed: Duration,
}

impl Throughput {
    /// Records per second (0 for an empty interval).
    pub fn records_per_sec(&self) -> f64 {
        per_sec(self.records as f64, self.elapsed)
    }

    /// Megabytes (2^20 bytes, as Kafka's tools) per second.
    pub fn mb_per_sec(&self) -> f64 {
        per_sec(self.bytes as f64 / (1024.0 * 1024.0), self.elapsed)
    }

    /// `records`, `bytes`, `elapsed_secs`, `records_per_sec`, `mb_per_sec` as JSON fields.
    pub fn json_fields(&self, obj: &mut serde_json::Map<String, Value>) {
        obj.insert("records".into(), json!(self.records));
        obj.insert("bytes".into(), json!(self.bytes));
        obj.insert(
            "elapsed_secs".into(),
            json!(round3(self.elapsed.as_secs_f64())),
        );
        obj.insert(
            "records_per_sec".into(),
            json!(round3(self.records_per_sec())),
        );
        obj.insert("mb_per_sec".into(), json!(round3(self.mb_per_sec())));
    }

    /// `2000 records, 1234.5 records/sec (0.12 MB/sec)`.
    pub fn to_text(self, verb: &str) -> String {
        format!(
            "{} records {verb}, {:.1} records/sec ({:.2} MB/sec)",
            self.records,
            self.records_per_sec(),
            self.mb_per_sec()
        )
    }
}

fn per_sec(amount: f64, elapsed: Duration) -> f64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 {
        amount / s
    } else {
        0.0
    }
}

/// Round to three decimals for stable JSON.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Print the result: the JSON object on stdout with `--json`, otherwise the text lines.
pub fn emit(json_mode: bool, obj: serde_json::Map<String, Value>, text: &[String]) {
    if json_mode {
        println!("{}", Value::Object(obj));
    } else {
        for line in text {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = new_histogram();
        for ms in 1..=1000u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        let l = Latency::from_histogram(&h);
        assert!((l.p50 - 500.0).abs() < 1.0, "{l:?}");
        assert!((l.p99 - 990.0).abs() < 1.0, "{l:?}");
        assert!((l.max - 1000.0).abs() < 1.0, "{l:?}");
        assert!((l.avg - 500.5).abs() < 1.0, "{l:?}");
        assert_eq!(
            Latency::from_histogram(&new_histogram()).to_json()["p99"],
            0.0
        );
    }

    #[test]
    fn throughput_rates() {
        let t = Throughput {
            records: 2000,
            bytes: 2 * 1024 * 1024,
            elapsed: Duration::from_secs(2),
        };
        assert_eq!(t.records_per_sec(), 1000.0);
        assert_eq!(t.mb_per_sec(), 1.0);
        assert!(t
            .to_text("sent")
            .starts_with("2000 records sent, 1000.0 records/sec"));
    }
}
