//! The first FindCoordinator requests of a new cluster create `__consumer_offsets`. A client
//! that asks on two connections at once (librdkafka asks on its bootstrap connection and again
//! on the broker's own) must get both answers as soon as the topic exists: the second request
//! waits for the first one's creation instead of proposing the topic again, whose refusal used
//! to cost it the admin path's one-second settle wait — and librdkafka holds its consumer's
//! fetches behind that answer on the same connection (a one-second stall at the start of the
//! first consumer, issue #24).

mod common;

use std::time::{Duration, Instant};

use common::*;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};

fn request(group: &str) -> FindCoordinatorRequest {
    let mut req = FindCoordinatorRequest::default();
    req.key = StrBytes::from_string(group.to_string());
    req.key_type = 0;
    req
}

async fn answer(c: &mut Client) -> (FindCoordinatorResponse, Instant) {
    let (_, mut body) = c.recv(ApiKey::FindCoordinator, 3).await;
    let r = FindCoordinatorResponse::decode(&mut body, 3).unwrap();
    (r, Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_find_coordinators_share_one_creation() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut a = Client::connect(server.addr).await;
    let mut b = Client::connect(server.addr).await;
    // Both sent before either is answered: both find no `__consumer_offsets`.
    a.send(ApiKey::FindCoordinator, 3, &request("g1")).await;
    b.send(ApiKey::FindCoordinator, 3, &request("g2")).await;
    let ((ra, ta), (rb, tb)) = tokio::join!(answer(&mut a), answer(&mut b));
    assert_eq!(ra.error_code, 0, "{ra:?}");
    assert_eq!(rb.error_code, 0, "{rb:?}");
    let gap = if ta > tb { ta - tb } else { tb - ta };
    assert!(
        gap < Duration::from_millis(500),
        "the answers came {gap:?} apart: one request waited for a refused second creation"
    );
    server.stop().await;
}
