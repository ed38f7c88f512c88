//! The request pipeline's quota hook: what a request is charged (produce bytes before the
//! handler, handling time after it, fetch response bytes once the response exists) and the
//! `throttle_time_ms` written into Produce and Fetch responses.

use kafka_protocol::messages::{RequestKind, ResponseKind};

use super::{QuotaKind, QuotaManager};

/// Who a request is charged to.
#[derive(Debug, Clone)]
pub struct QuotaClient {
    user: String,
    client: String,
    connection: u64,
    /// A follower's fetch (replica id ≥ 0): replication is not subject to client quotas.
    exempt: bool,
}

impl QuotaClient {
    /// The principal's name `user`, the header's `client` id and the `connection` of a request
    /// `body` decoded at `api_version`; follower fetches are exempt, as in Kafka.
    pub fn of(
        user: &str,
        client: &str,
        connection: u64,
        api_version: i16,
        body: &RequestKind,
    ) -> Self {
        let exempt = match body {
            RequestKind::Fetch(f) if api_version >= 15 => f.replica_state.replica_id.0 >= 0,
            RequestKind::Fetch(f) => f.replica_id.0 >= 0,
            _ => false,
        };
        QuotaClient {
            user: user.to_string(),
            client: client.to_string(),
            connection,
            exempt,
        }
    }
}

/// The record bytes of a produce request (0 for other requests).
pub fn produce_bytes(body: &RequestKind) -> usize {
    match body {
        RequestKind::Produce(p) => p
            .topic_data
            .iter()
            .flat_map(|t| t.partition_data.iter())
            .filter_map(|p| p.records.as_ref().map(|r| r.len()))
            .sum(),
        _ => 0,
    }
}

fn fetch_bytes(resp: &ResponseKind) -> usize {
    match resp {
        ResponseKind::Fetch(f) => f
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter_map(|p| p.records.as_ref().map(|r| r.len()))
            .sum(),
        _ => 0,
    }
}

impl QuotaManager {
    /// Charge a handled request: its produce bytes (if any) and its handling time; returns the
    /// larger throttle time in ms.
    pub fn charge_request(&self, who: &QuotaClient, produce_bytes: usize, handled_ns: u128) -> i32 {
        if who.exempt {
            return 0;
        }
        let mut ms = 0;
        if produce_bytes > 0 {
            ms = self.record(
                QuotaKind::Produce,
                &who.user,
                &who.client,
                who.connection,
                produce_bytes as f64,
            );
        }
        // Percent-seconds of one thread: 1 s of handling = 100.
        let pct = handled_ns as f64 / 1e7;
        ms.max(self.record(
            QuotaKind::Request,
            &who.user,
            &who.client,
            who.connection,
            pct,
        ))
    }

    /// Charge a fetch response's bytes and write the throttle time (the larger of `throttle_ms`
    /// and the fetch's) into a Produce or Fetch response.
    pub fn finish_response(&self, who: &QuotaClient, resp: &mut ResponseKind, throttle_ms: i32) {
        if who.exempt {
            return;
        }
        let mut ms = throttle_ms;
        let bytes = fetch_bytes(resp);
        if bytes > 0 {
            ms = ms.max(self.record(
                QuotaKind::Fetch,
                &who.user,
                &who.client,
                who.connection,
                bytes as f64,
            ));
        }
        if ms <= 0 {
            return;
        }
        match resp {
            ResponseKind::Produce(p) => p.throttle_time_ms = p.throttle_time_ms.max(ms),
            ResponseKind::Fetch(f) => f.throttle_time_ms = f.throttle_time_ms.max(ms),
            _ => {}
        }
    }
}
