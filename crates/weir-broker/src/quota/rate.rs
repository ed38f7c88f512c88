//! A sans-IO windowed rate, as Kafka's `Rate` over a `SampledStat`: values are summed into
//! samples of `window_ms` each; samples older than `samples × window_ms` are dropped; the rate is
//! the sum over the elapsed time since the oldest sample, which is counted as at least
//! `samples − 1` full windows (so a new sensor does not report a huge rate from one request).
//! Time is passed in (milliseconds on any monotonic clock).

use std::collections::VecDeque;

pub use crate::config::quotas::RateConfig;

/// One windowed rate (per second).
#[derive(Debug, Clone, Default)]
pub struct Rate {
    /// (sample start ms, summed value), oldest first.
    samples: VecDeque<(u64, f64)>,
}

impl Rate {
    fn purge(&mut self, cfg: RateConfig, now_ms: u64) {
        let max_age = u64::from(cfg.samples.max(1)) * cfg.window_ms;
        while self
            .samples
            .front()
            .is_some_and(|(start, _)| now_ms.saturating_sub(*start) >= max_age)
        {
            self.samples.pop_front();
        }
    }

    /// Add `value` at `now_ms`.
    pub fn record(&mut self, cfg: RateConfig, value: f64, now_ms: u64) {
        self.purge(cfg, now_ms);
        match self.samples.back_mut() {
            Some((start, sum)) if now_ms.saturating_sub(*start) < cfg.window_ms => *sum += value,
            _ => self.samples.push_back((now_ms, value)),
        }
        while self.samples.len() > cfg.samples.max(1) as usize {
            self.samples.pop_front();
        }
    }

    /// The span in ms the rate divides by at `now_ms` (Kafka's `Rate.windowSize`).
    pub fn window_size_ms(&self, cfg: RateConfig, now_ms: u64) -> u64 {
        let oldest = self.samples.front().map_or(now_ms, |(s, _)| *s);
        let mut elapsed = now_ms.saturating_sub(oldest);
        let full = elapsed / cfg.window_ms.max(1);
        let min_full = u64::from(cfg.samples.max(1) - 1);
        if full < min_full {
            elapsed += (min_full - full) * cfg.window_ms;
        }
        elapsed.max(1)
    }

    /// The rate per second at `now_ms`.
    pub fn measure(&mut self, cfg: RateConfig, now_ms: u64) -> f64 {
        self.purge(cfg, now_ms);
        let total: f64 = self.samples.iter().map(|(_, v)| v).sum();
        total * 1000.0 / self.window_size_ms(cfg, now_ms) as f64
    }

    /// The last time a value was recorded (None if never or all expired).
    pub fn last_sample_ms(&self) -> Option<u64> {
        self.samples.back().map(|(s, _)| *s)
    }

    /// Record `value` at `now_ms` and return how long (ms) the client must wait for the rate to
    /// fall back to `quota` (Kafka's `(rate − quota) / quota × window`), capped at the whole
    /// window span; 0 when within the quota.
    pub fn record_and_throttle(
        &mut self,
        cfg: RateConfig,
        value: f64,
        quota: f64,
        now_ms: u64,
    ) -> u64 {
        self.record(cfg, value, now_ms);
        let rate = self.measure(cfg, now_ms);
        if quota <= 0.0 || rate <= quota {
            return 0;
        }
        let window = self.window_size_ms(cfg, now_ms) as f64;
        let cap = u64::from(cfg.samples) * cfg.window_ms;
        (((rate - quota) / quota * window).round() as u64).min(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: RateConfig = RateConfig {
        samples: 11,
        window_ms: 1000,
    };

    #[test]
    fn a_new_rate_counts_at_least_ten_windows() {
        let mut r = Rate::default();
        r.record(CFG, 1000.0, 0);
        assert_eq!(r.window_size_ms(CFG, 0), 10_000);
        assert!((r.measure(CFG, 0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_steady_rate_is_measured_and_old_samples_expire() {
        let mut r = Rate::default();
        for t in 0..30_000u64 {
            if t % 100 == 0 {
                r.record(CFG, 100.0, t); // 1000 per second
            }
        }
        let m = r.measure(CFG, 30_000);
        assert!((m - 1000.0).abs() < 120.0, "{m}");
        assert!(r.samples.len() <= 11);
        assert_eq!(r.measure(CFG, 60_000), 0.0, "everything expired");
    }

    #[test]
    fn throttle_is_what_brings_the_rate_back_to_the_quota() {
        let mut r = Rate::default();
        // 20 000 units at once against a quota of 1000/s over a 10 s window: rate 2000/s.
        let t = r.record_and_throttle(CFG, 20_000.0, 1000.0, 0);
        assert_eq!(t, 10_000);
        let mut r = Rate::default();
        assert_eq!(r.record_and_throttle(CFG, 5_000.0, 1000.0, 0), 0);
        // Far over: capped at the whole window span.
        let mut r = Rate::default();
        assert_eq!(r.record_and_throttle(CFG, 1e9, 1000.0, 0), 11_000);
    }

    #[test]
    fn a_client_obeying_the_throttle_averages_the_quota() {
        let mut r = Rate::default();
        let (mut now, mut sent) = (0u64, 0.0);
        while now < 60_000 {
            sent += 50_000.0;
            let wait = r.record_and_throttle(CFG, 50_000.0, 100_000.0, now);
            now += wait.max(5);
        }
        let avg = sent / (now as f64 / 1000.0);
        assert!((avg - 100_000.0).abs() / 100_000.0 < 0.2, "{avg}");
    }
}
