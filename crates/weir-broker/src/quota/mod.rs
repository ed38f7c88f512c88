//! Client quota enforcement, as Kafka's `ClientQuotaManager`: produce bytes (after the append),
//! fetch bytes (the response size) and request time are recorded per (user, client-id) against
//! the quota that applies by Kafka's entity precedence ([`book`]); over the quota, the response
//! carries `throttle_time_ms` and the connection reads no further request for that long
//! (Kafka mutes the channel). Requests are never failed for a quota.

pub mod book;
pub mod hook;
pub mod rate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use weir_meta::quota::{CONSUMER_BYTE_RATE, PRODUCER_BYTE_RATE, REQUEST_PERCENTAGE};

use crate::metadata::view::MetadataView;
use book::QuotaBook;
use rate::RateConfig;

/// What is being measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    /// Produce request bytes (`producer_byte_rate`).
    Produce,
    /// Fetch response bytes (`consumer_byte_rate`).
    Fetch,
    /// Request handling time in percent of one thread (`request_percentage`).
    Request,
}

impl QuotaKind {
    fn key(self) -> &'static str {
        match self {
            QuotaKind::Produce => PRODUCER_BYTE_RATE,
            QuotaKind::Fetch => CONSUMER_BYTE_RATE,
            QuotaKind::Request => REQUEST_PERCENTAGE,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The broker's quota sensors and the connections muted for throttling.
#[derive(Debug)]
pub struct QuotaManager {
    view: Arc<MetadataView>,
    window: RateConfig,
    epoch: Instant,
    books: Mutex<[QuotaBook; 3]>,
    muted: Mutex<HashMap<u64, Instant>>,
}

impl QuotaManager {
    /// Quotas read from `view`'s image, measured over `window`.
    pub fn new(view: Arc<MetadataView>, window: RateConfig) -> Self {
        QuotaManager {
            view,
            window,
            epoch: Instant::now(),
            books: Mutex::new(Default::default()),
            muted: Mutex::new(HashMap::new()),
        }
    }

    /// Record `value` (bytes, or percent-seconds for [`QuotaKind::Request`]) for (user, client)
    /// and, when that exceeds the applicable quota, mute `connection` for the throttle time.
    /// Returns the throttle time in ms (0 when no quota applies or within it).
    pub fn record(
        &self,
        kind: QuotaKind,
        user: &str,
        client: &str,
        connection: u64,
        value: f64,
    ) -> i32 {
        let image = self.view.image();
        if image.quotas.is_empty() {
            return 0;
        }
        let now = Instant::now();
        let now_ms = now.duration_since(self.epoch).as_millis() as u64;
        let ms = match self.books.lock() {
            Ok(mut books) => books[kind.index()].record(
                self.window,
                &image.quotas,
                kind.key(),
                (user, client),
                value,
                now_ms,
            ),
            Err(_) => 0,
        };
        if ms > 0 {
            self.mute(connection, now + Duration::from_millis(ms));
        }
        i32::try_from(ms).unwrap_or(i32::MAX)
    }

    fn mute(&self, connection: u64, until: Instant) {
        if let Ok(mut m) = self.muted.lock() {
            let e = m.entry(connection).or_insert(until);
            *e = (*e).max(until);
        }
    }

    /// Wait while `connection` is muted (returns at once when it is not).
    pub async fn wait_unmuted(&self, connection: u64) {
        let until = self
            .muted
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&connection));
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Forget a closed connection.
    pub fn connection_closed(&self, connection: u64) {
        if let Ok(mut m) = self.muted.lock() {
            m.remove(&connection);
        }
    }
}
