//! Broker heartbeats to the active controller (handled here when this node leads, else
//! forwarded), carrying the partitions of the broker's offline log dirs.

use std::time::Duration;

use super::super::network::{Forwarded, RpcRequest, RpcResponse};
use super::{now_ms, MetaNode};
use crate::MetaError;

impl MetaNode {
    /// A broker heartbeat, with the partitions of its offline log dirs: delivered to the active
    /// controller (here or forwarded).
    pub async fn heartbeat(
        &self,
        broker: i32,
        offline: Vec<(String, i32)>,
    ) -> Result<(), MetaError> {
        match self.leader() {
            Some(l) if l == self.id => match self.local_heartbeat(broker, offline).await {
                Forwarded::Done(r) => r.map(|_| ()),
                Forwarded::NotLeader(l) => Err(MetaError::NotController(l)),
                Forwarded::Failed(e) => Err(MetaError::Raft(e)),
            },
            Some(l) => match self
                .call_voter(
                    l,
                    &RpcRequest::Heartbeat { broker, offline },
                    Duration::from_secs(5),
                )
                .await?
            {
                RpcResponse::Forwarded(Forwarded::Done(r)) => r.map(|_| ()),
                RpcResponse::Forwarded(Forwarded::NotLeader(l)) => Err(MetaError::NotController(l)),
                other => Err(MetaError::Raft(format!(
                    "unexpected heartbeat answer {other:?}"
                ))),
            },
            None => Err(MetaError::NotController(None)),
        }
    }

    pub(super) async fn local_heartbeat(
        &self,
        broker: i32,
        offline: Vec<(String, i32)>,
    ) -> Forwarded {
        if !self.is_leader() {
            return Forwarded::NotLeader(self.leader());
        }
        let recs = {
            let image = self.image();
            let mut c = self.controller.lock().unwrap_or_else(|p| p.into_inner());
            let mut recs = c.1.heartbeat(&image, broker, now_ms());
            if recs.is_empty() {
                recs = crate::offline_dirs::offline_replicas(&image, broker, &offline);
            }
            recs
        };
        if recs.is_empty() {
            return Forwarded::Done(Ok(Vec::new()));
        }
        match self.raft.client_write(recs).await {
            Ok(resp) => Forwarded::Done(resp.data),
            Err(e) => Forwarded::Failed(e.to_string()),
        }
    }
}
