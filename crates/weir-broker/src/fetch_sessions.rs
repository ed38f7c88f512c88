//! Incremental fetch sessions (KIP-227): pure bookkeeping, no I/O.
//!
//! A fetch request carries `(session_id, session_epoch)`:
//! * `(0, -1)` — sessionless full fetch (old clients); no session is kept.
//! * `(0 or X, 0)` — full fetch that (re)creates a session; `X` is closed first. The response
//!   carries the new session id (0 when the cache is full and nothing could be evicted).
//! * `(X, -1)` — close session `X`, then a sessionless full fetch of the request's partitions.
//! * `(X, n > 0)` — incremental fetch: the request lists only added/changed partitions and
//!   `forgotten_topics_data`; the fetch covers every partition in the session, and the response
//!   lists only partitions with something new (records, error, high watermark, last stable
//!   offset or log start offset change). Unknown `X` → FETCH_SESSION_ID_NOT_FOUND (70); `n`
//!   different from the expected epoch → INVALID_FETCH_SESSION_EPOCH (71).
//!
//! The cache holds at most `max.incremental.fetch.session.cache.slots` (1000) sessions. When it
//! is full, a new session evicts the least recently used session if that one has been idle for
//! at least `min.incremental.fetch.session.eviction.ms` (120 s); otherwise no session is created
//! (the client keeps working with full fetches). Kafka additionally lets larger sessions evict
//! smaller ones; Weir does not (simplification).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kafka_protocol::error::ResponseError;
use uuid::Uuid;

/// Kafka's default `max.incremental.fetch.session.cache.slots`.
pub const DEFAULT_CACHE_SLOTS: usize = 1000;
/// Kafka's `min.incremental.fetch.session.eviction.ms` (120 000 ms).
pub const DEFAULT_EVICTION_IDLE: Duration = Duration::from_millis(120_000);

/// How a fetch request names a topic: by name (Fetch v0–12) or by topic id (v13+).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicRef {
    /// By name.
    Name(String),
    /// By topic id.
    Id(Uuid),
}

/// One partition of a fetch, as a session key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartKey {
    /// The topic.
    pub topic: TopicRef,
    /// The partition index.
    pub partition: i32,
}

/// What the client asked for one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRequest {
    /// Offset to read from.
    pub fetch_offset: i64,
    /// `partition_max_bytes`.
    pub max_bytes: i32,
    /// `current_leader_epoch` (-1 = not given).
    pub current_leader_epoch: i32,
    /// `last_fetched_epoch` (v12+, -1 = not given): the epoch of the fetcher's last batch,
    /// checked for divergence (KIP-320).
    pub last_fetched_epoch: i32,
}

/// The per-partition facts a response reports; used to decide what changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartOutcome {
    /// Error code (0 = none).
    pub error_code: i16,
    /// High watermark reported.
    pub high_watermark: i64,
    /// Last stable offset reported.
    pub last_stable_offset: i64,
    /// Log start offset reported.
    pub log_start_offset: i64,
    /// Record bytes returned.
    pub record_bytes: usize,
}

/// Cached state of one partition in a session.
#[derive(Debug, Clone, Copy)]
struct CachedPart {
    req: PartRequest,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
}

#[derive(Debug)]
struct Session {
    epoch: i32,
    /// Partitions in fetch order (partitions that returned data rotate to the end, as Kafka does).
    order: Vec<PartKey>,
    parts: HashMap<PartKey, CachedPart>,
    last_used: Instant,
}

/// The outcome of interpreting a fetch request's session fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchContext {
    /// Full fetch without a session: answer every requested partition; session id 0.
    Sessionless {
        /// Partitions to fetch, in request order.
        parts: Vec<(PartKey, PartRequest)>,
    },
    /// Full fetch that created session `session_id` (0 if none could be created).
    Full {
        /// Id to return in the response.
        session_id: i32,
        /// Partitions to fetch, in request order.
        parts: Vec<(PartKey, PartRequest)>,
    },
    /// Incremental fetch of every partition in the session; respond only with changes.
    Incremental {
        /// The session.
        session_id: i32,
        /// Every partition of the session, in session order, with cached offsets.
        parts: Vec<(PartKey, PartRequest)>,
    },
    /// The session fields are invalid: answer with this top-level error and session id 0.
    Error(ResponseError),
}

impl FetchContext {
    /// The partitions to read (empty for `Error`).
    pub fn parts(&self) -> &[(PartKey, PartRequest)] {
        match self {
            FetchContext::Sessionless { parts }
            | FetchContext::Full { parts, .. }
            | FetchContext::Incremental { parts, .. } => parts,
            FetchContext::Error(_) => &[],
        }
    }

    /// The session id to put in the response.
    pub fn response_session_id(&self) -> i32 {
        match self {
            FetchContext::Full { session_id, .. }
            | FetchContext::Incremental { session_id, .. } => *session_id,
            _ => 0,
        }
    }
}

/// The broker's fetch session cache. Thread-safe; all methods take `&self`.
#[derive(Debug)]
pub struct FetchSessionCache {
    inner: Mutex<HashMap<i32, Session>>,
    max_slots: usize,
    eviction_idle: Duration,
}

impl Default for FetchSessionCache {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_SLOTS, DEFAULT_EVICTION_IDLE)
    }
}

/// Kafka's next session epoch: wraps from i32::MAX to 1.
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

impl FetchSessionCache {
    /// A cache holding at most `max_slots` sessions; a session idle for `eviction_idle` may be
    /// evicted to make room.
    pub fn new(max_slots: usize, eviction_idle: Duration) -> Self {
        Self {
            inner: Mutex::new(HashMap::new()),
            max_slots,
            eviction_idle,
        }
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when no session is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Session>> {
        // A poisoned lock only means another request panicked mid-update; the map itself is
        // still structurally valid, so keep serving rather than failing every fetch.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Interpret a request's session fields. `requested` are the partitions listed in the
    /// request, `forgotten` those in `forgotten_topics_data`.
    pub fn new_context(
        &self,
        session_id: i32,
        epoch: i32,
        requested: Vec<(PartKey, PartRequest)>,
        forgotten: Vec<PartKey>,
        now: Instant,
    ) -> FetchContext {
        let mut sessions = self.lock();
        if epoch == -1 {
            if session_id != 0 {
                sessions.remove(&session_id);
            }
            return FetchContext::Sessionless { parts: requested };
        }
        if epoch == 0 {
            if session_id != 0 {
                sessions.remove(&session_id);
            }
            let id = self.create_session(&mut sessions, &requested, now);
            return FetchContext::Full {
                session_id: id,
                parts: requested,
            };
        }
        if epoch < 0 {
            return FetchContext::Error(ResponseError::InvalidFetchSessionEpoch);
        }
        let Some(session) = sessions.get_mut(&session_id) else {
            return FetchContext::Error(ResponseError::FetchSessionIdNotFound);
        };
        if session.epoch != epoch {
            return FetchContext::Error(ResponseError::InvalidFetchSessionEpoch);
        }
        for key in &forgotten {
            if session.parts.remove(key).is_some() {
                session.order.retain(|k| k != key);
            }
        }
        for (key, req) in requested {
            match session.parts.get_mut(&key) {
                Some(cached) => cached.req = req,
                None => {
                    session.order.push(key.clone());
                    session.parts.insert(key, CachedPart::new(req));
                }
            }
        }
        session.epoch = next_epoch(session.epoch);
        session.last_used = now;
        let parts = session
            .order
            .iter()
            .filter_map(|k| session.parts.get(k).map(|c| (k.clone(), c.req)))
            .collect();
        FetchContext::Incremental { session_id, parts }
    }

    fn create_session(
        &self,
        sessions: &mut HashMap<i32, Session>,
        requested: &[(PartKey, PartRequest)],
        now: Instant,
    ) -> i32 {
        if self.max_slots == 0 {
            return 0;
        }
        if sessions.len() >= self.max_slots {
            let lru = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, s)| (*id, s.last_used));
            match lru {
                Some((id, used)) if now.saturating_duration_since(used) >= self.eviction_idle => {
                    sessions.remove(&id);
                }
                _ => return 0,
            }
        }
        let id = loop {
            let candidate = random_session_id();
            if !sessions.contains_key(&candidate) {
                break candidate;
            }
        };
        let mut order = Vec::with_capacity(requested.len());
        let mut parts = HashMap::with_capacity(requested.len());
        for (key, req) in requested {
            if parts.insert(key.clone(), CachedPart::new(*req)).is_none() {
                order.push(key.clone());
            }
        }
        sessions.insert(
            id,
            Session {
                epoch: 1,
                order,
                parts,
                last_used: now,
            },
        );
        id
    }

    /// After reading: record what each partition reported and decide which partitions the
    /// response includes. Returns one flag per outcome (same order). For sessionless contexts
    /// everything is included; for full sessions everything is included and cached; for
    /// incremental sessions only partitions whose outcome differs from the cached state (or
    /// that returned records or an error) are included. Partitions that returned records move
    /// to the end of the session order so later fetches serve the others first.
    pub fn record_outcomes(
        &self,
        ctx: &FetchContext,
        outcomes: &[(PartKey, PartOutcome)],
    ) -> Vec<bool> {
        let (session_id, incremental) = match ctx {
            FetchContext::Full { session_id, .. } if *session_id != 0 => (*session_id, false),
            FetchContext::Incremental { session_id, .. } => (*session_id, true),
            _ => return vec![true; outcomes.len()],
        };
        let mut sessions = self.lock();
        let Some(session) = sessions.get_mut(&session_id) else {
            // Evicted or closed meanwhile: answer fully.
            return vec![true; outcomes.len()];
        };
        let mut include = Vec::with_capacity(outcomes.len());
        let mut rotate = Vec::new();
        for (key, out) in outcomes {
            let Some(cached) = session.parts.get_mut(key) else {
                include.push(true);
                continue;
            };
            let changed = out.record_bytes > 0
                || out.error_code != 0
                || cached.high_watermark != out.high_watermark
                || cached.last_stable_offset != out.last_stable_offset
                || cached.log_start_offset != out.log_start_offset;
            cached.high_watermark = out.high_watermark;
            cached.last_stable_offset = out.last_stable_offset;
            cached.log_start_offset = out.log_start_offset;
            include.push(!incremental || changed);
            if incremental && out.record_bytes > 0 {
                rotate.push(key.clone());
            }
        }
        if !rotate.is_empty() {
            session.order.retain(|k| !rotate.contains(k));
            session.order.extend(rotate);
        }
        include
    }
}

impl CachedPart {
    fn new(req: PartRequest) -> Self {
        // -1 everywhere: the first response always includes a newly added partition.
        Self {
            req,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
        }
    }
}

/// A random positive, non-zero session id.
fn random_session_id() -> i32 {
    let bytes = Uuid::new_v4().into_bytes();
    let raw = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) & i32::MAX;
    if raw == 0 {
        1
    } else {
        raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: &str, p: i32) -> PartKey {
        PartKey {
            topic: TopicRef::Name(t.into()),
            partition: p,
        }
    }
    fn req(off: i64) -> PartRequest {
        PartRequest {
            last_fetched_epoch: -1,
            fetch_offset: off,
            max_bytes: 1024,
            current_leader_epoch: -1,
        }
    }
    fn out(hw: i64, bytes: usize) -> PartOutcome {
        PartOutcome {
            error_code: 0,
            high_watermark: hw,
            last_stable_offset: hw,
            log_start_offset: 0,
            record_bytes: bytes,
        }
    }

    #[test]
    fn sessionless_keeps_no_state() {
        let c = FetchSessionCache::default();
        let ctx = c.new_context(0, -1, vec![(key("a", 0), req(0))], vec![], Instant::now());
        assert!(matches!(ctx, FetchContext::Sessionless { .. }));
        assert_eq!(ctx.response_session_id(), 0);
        assert!(c.is_empty());
    }

    #[test]
    fn full_then_incremental_reports_only_changes() {
        let c = FetchSessionCache::default();
        let now = Instant::now();
        let ctx = c.new_context(
            0,
            0,
            vec![(key("a", 0), req(0)), (key("a", 1), req(5))],
            vec![],
            now,
        );
        let id = ctx.response_session_id();
        assert_ne!(id, 0);
        let inc = c.record_outcomes(&ctx, &[(key("a", 0), out(10, 0)), (key("a", 1), out(5, 0))]);
        assert_eq!(inc, vec![true, true]);

        // Incremental with nothing listed: the fetch covers both cached partitions.
        let ctx2 = c.new_context(id, 1, vec![], vec![], now);
        assert_eq!(ctx2.parts().len(), 2);
        assert_eq!(ctx2.parts()[1].1.fetch_offset, 5);
        // Partition 0 unchanged, partition 1 got new data.
        let inc2 = c.record_outcomes(
            &ctx2,
            &[(key("a", 0), out(10, 0)), (key("a", 1), out(6, 40))],
        );
        assert_eq!(inc2, vec![false, true]);

        // Next epoch updates the fetch offset of partition 1 and forgets partition 0;
        // partition 1 rotated to the end, so it is still the only one.
        let ctx3 = c.new_context(id, 2, vec![(key("a", 1), req(6))], vec![key("a", 0)], now);
        assert_eq!(ctx3.parts(), &[(key("a", 1), req(6))]);
    }

    #[test]
    fn partitions_with_data_rotate_to_the_end() {
        let c = FetchSessionCache::default();
        let now = Instant::now();
        let ctx = c.new_context(
            0,
            0,
            vec![(key("a", 0), req(0)), (key("a", 1), req(0))],
            vec![],
            now,
        );
        let id = ctx.response_session_id();
        c.record_outcomes(&ctx, &[(key("a", 0), out(1, 0)), (key("a", 1), out(1, 0))]);
        let ctx2 = c.new_context(id, 1, vec![], vec![], now);
        c.record_outcomes(
            &ctx2,
            &[(key("a", 0), out(2, 10)), (key("a", 1), out(1, 0))],
        );
        let ctx3 = c.new_context(id, 2, vec![], vec![], now);
        let order: Vec<i32> = ctx3.parts().iter().map(|(k, _)| k.partition).collect();
        assert_eq!(order, vec![1, 0]);
    }

    #[test]
    fn errors_for_bad_ids_and_epochs() {
        let c = FetchSessionCache::default();
        let now = Instant::now();
        assert_eq!(
            c.new_context(12345, 1, vec![], vec![], now),
            FetchContext::Error(ResponseError::FetchSessionIdNotFound)
        );
        let id = c
            .new_context(0, 0, vec![(key("a", 0), req(0))], vec![], now)
            .response_session_id();
        assert_eq!(
            c.new_context(id, 7, vec![], vec![], now),
            FetchContext::Error(ResponseError::InvalidFetchSessionEpoch)
        );
        // The right epoch still works after a wrong one.
        assert!(matches!(
            c.new_context(id, 1, vec![], vec![], now),
            FetchContext::Incremental { .. }
        ));
    }

    #[test]
    fn epoch_minus_one_closes_the_session() {
        let c = FetchSessionCache::default();
        let now = Instant::now();
        let id = c
            .new_context(0, 0, vec![(key("a", 0), req(0))], vec![], now)
            .response_session_id();
        assert_eq!(c.len(), 1);
        let ctx = c.new_context(id, -1, vec![(key("a", 0), req(3))], vec![], now);
        assert!(matches!(ctx, FetchContext::Sessionless { .. }));
        assert!(c.is_empty());
        assert_eq!(
            c.new_context(id, 1, vec![], vec![], now),
            FetchContext::Error(ResponseError::FetchSessionIdNotFound)
        );
    }

    #[test]
    fn full_cache_evicts_only_idle_sessions() {
        let c = FetchSessionCache::new(1, Duration::from_secs(120));
        let t0 = Instant::now();
        let first = c
            .new_context(0, 0, vec![], vec![], t0)
            .response_session_id();
        assert_ne!(first, 0);
        // Cache full, first session recently used: no new session.
        let second = c.new_context(0, 0, vec![], vec![], t0 + Duration::from_secs(1));
        assert_eq!(second.response_session_id(), 0);
        // After the idle period the old session is evicted.
        let third = c
            .new_context(0, 0, vec![], vec![], t0 + Duration::from_secs(121))
            .response_session_id();
        assert_ne!(third, 0);
        assert_eq!(c.len(), 1);
        assert_eq!(
            c.new_context(first, 1, vec![], vec![], t0 + Duration::from_secs(122)),
            FetchContext::Error(ResponseError::FetchSessionIdNotFound)
        );
    }

    #[test]
    fn epoch_wraps_to_one() {
        assert_eq!(next_epoch(i32::MAX), 1);
        assert_eq!(next_epoch(1), 2);
    }
}
