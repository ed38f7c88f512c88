//! DescribeQuorum on any node: computed here when this node leads the metadata quorum, else
//! asked of the leader over the CONTROLLER transport.

use std::time::Duration;

use super::network::{RpcRequest, RpcResponse};
use super::node::MetaNode;
use super::progress::QuorumInfo;
use crate::MetaError;

impl MetaNode {
    /// The quorum as the leader sees it: computed here when this node leads, else asked of the
    /// leader within `timeout`. NOT_CONTROLLER while no leader is known or the one asked no
    /// longer leads.
    pub async fn describe_quorum(&self, timeout: Duration) -> Result<QuorumInfo, MetaError> {
        if let Some(q) = self.local_quorum_info() {
            return Ok(q);
        }
        let Some(leader) = self.leader() else {
            return Err(MetaError::NotController(None));
        };
        match self
            .call_voter(leader, &RpcRequest::DescribeQuorum, timeout)
            .await?
        {
            RpcResponse::Quorum(Some(q)) => Ok(q),
            RpcResponse::Quorum(None) => Err(MetaError::NotController(None)),
            other => Err(MetaError::Raft(format!(
                "unexpected answer to DescribeQuorum: {other:?}"
            ))),
        }
    }
}
