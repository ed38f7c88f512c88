//! The checks of the admin APIs (as Kafka's `KafkaApis` / `AuthHelper`): configs need
//! DESCRIBE_CONFIGS / ALTER_CONFIGS on the topic, group or (broker configs) the cluster;
//! reassignments, log dirs and ACL changes ALTER / DESCRIBE on the cluster; the share-group
//! state RPCs (broker to share coordinator) CLUSTER_ACTION.

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use weir_meta::acl::AclOperation as Op;

use super::merge::{merge, refuse_top, split, Gate, CLUSTER, GROUP, TOPIC};
use super::Authz;

/// May the principal do `op` on config resource `(kind, name)`? The error code if not.
fn config_check(a: &Authz, op: Op, kind: i8, name: &str) -> Option<i16> {
    let (ok, code) = match kind {
        2 => (a.topic(op, name), TOPIC),
        32 => (a.group(op, name), GROUP),
        _ => (a.cluster(op), CLUSTER),
    };
    (!ok).then_some(code)
}

/// Take the resources of `items` the principal may not `op` out of `items` (each checked once):
/// each with its error code, in request order.
fn refused_configs<T>(
    a: &Authz,
    op: Op,
    items: &mut Vec<T>,
    key: impl Fn(&T) -> (i8, &str),
) -> Vec<(i16, T)> {
    let mut codes = Vec::new();
    let refused = split(items, |res| {
        let (kind, name) = key(res);
        let code = config_check(a, op, kind, name);
        if let Some(c) = code {
            codes.push(c);
        }
        code.is_none()
    });
    codes.into_iter().zip(refused).collect()
}

/// An "Authorization failed." config-resource error `$ty` for each refused resource.
macro_rules! config_errors {
    ($refused:expr, $ty:ty) => {
        $refused
            .into_iter()
            .map(|(code, res)| {
                let mut e = <$ty>::default();
                e.error_code = code;
                e.error_message = Some(StrBytes::from_static_str("Authorization failed."));
                e.resource_type = res.resource_type;
                e.resource_name = res.resource_name;
                e
            })
            .collect::<Vec<_>>()
    };
}

/// DescribeConfigs: DESCRIBE_CONFIGS per resource.
pub(super) fn describe_configs(a: &Authz, mut r: DescribeConfigsRequest) -> Gate {
    let refused = refused_configs(a, Op::DescribeConfigs, &mut r.resources, |res| {
        (res.resource_type, res.resource_name.as_str())
    });
    let errors = config_errors!(refused, describe_configs_response::DescribeConfigsResult);
    if errors.is_empty() {
        return Gate::Pass(RequestKind::DescribeConfigs(r), None);
    }
    Gate::Pass(
        RequestKind::DescribeConfigs(r),
        merge!(DescribeConfigs, |resp| { resp.results.extend(errors) }),
    )
}

/// AlterConfigs / IncrementalAlterConfigs: ALTER_CONFIGS per resource.
pub(super) fn alter_configs(a: &Authz, body: RequestKind) -> Gate {
    match body {
        RequestKind::AlterConfigs(mut r) => {
            let refused = refused_configs(a, Op::AlterConfigs, &mut r.resources, |res| {
                (res.resource_type, res.resource_name.as_str())
            });
            let errors = config_errors!(
                refused,
                alter_configs_response::AlterConfigsResourceResponse
            );
            Gate::Pass(
                RequestKind::AlterConfigs(r),
                merge!(AlterConfigs, |resp| { resp.responses.extend(errors) }),
            )
        }
        RequestKind::IncrementalAlterConfigs(mut r) => {
            let refused = refused_configs(a, Op::AlterConfigs, &mut r.resources, |res| {
                (res.resource_type, res.resource_name.as_str())
            });
            let errors = config_errors!(
                refused,
                incremental_alter_configs_response::AlterConfigsResourceResponse
            );
            Gate::Pass(
                RequestKind::IncrementalAlterConfigs(r),
                merge!(IncrementalAlterConfigs, |resp| {
                    resp.responses.extend(errors)
                }),
            )
        }
        other => Gate::Pass(other, None),
    }
}

/// The cluster-wide admin APIs: a top-level CLUSTER_AUTHORIZATION_FAILED without the
/// operation on the cluster. AlterPartitionReassignments, ElectLeaders, CreateAcls, DeleteAcls,
/// AddRaftVoter, RemoveRaftVoter, UnregisterBroker, UpdateFeatures and AlterReplicaLogDirs need
/// ALTER;
/// ListPartitionReassignments, DescribeLogDirs, DescribeAcls and DescribeQuorum DESCRIBE.
pub(super) fn cluster_admin(a: &Authz, body: RequestKind) -> Gate {
    let op = match &body {
        RequestKind::AlterPartitionReassignments(_)
        | RequestKind::ElectLeaders(_)
        | RequestKind::CreateAcls(_)
        | RequestKind::DeleteAcls(_)
        | RequestKind::AddRaftVoter(_)
        | RequestKind::RemoveRaftVoter(_)
        | RequestKind::UnregisterBroker(_)
        | RequestKind::UpdateFeatures(_)
        | RequestKind::AlterReplicaLogDirs(_) => Op::Alter,
        _ => Op::Describe,
    };
    if a.cluster(op) {
        return Gate::Pass(body, None);
    }
    match body {
        RequestKind::AlterPartitionReassignments(_) => {
            refuse_top!(
                AlterPartitionReassignments,
                AlterPartitionReassignmentsResponse,
                CLUSTER
            )
        }
        RequestKind::ListPartitionReassignments(_) => {
            refuse_top!(
                ListPartitionReassignments,
                ListPartitionReassignmentsResponse,
                CLUSTER
            )
        }
        RequestKind::DescribeLogDirs(_) => {
            refuse_top!(DescribeLogDirs, DescribeLogDirsResponse, CLUSTER)
        }
        RequestKind::DescribeAcls(_) => refuse_top!(DescribeAcls, DescribeAclsResponse, CLUSTER),
        // As Kafka: CLUSTER_AUTHORIZATION_FAILED on every partition.
        RequestKind::AlterReplicaLogDirs(r) => {
            let mut resp = AlterReplicaLogDirsResponse::default();
            for d in &r.dirs {
                for t in &d.topics {
                    let mut out =
                        alter_replica_log_dirs_response::AlterReplicaLogDirTopicResult::default();
                    out.topic_name = t.name.clone();
                    out.partitions = t
                        .partitions
                        .iter()
                        .map(|p| {
                            let mut pr =
                                alter_replica_log_dirs_response::AlterReplicaLogDirPartitionResult::default();
                            pr.partition_index = *p;
                            pr.error_code = CLUSTER;
                            pr
                        })
                        .collect();
                    resp.results.push(out);
                }
            }
            Gate::Refuse(ResponseKind::AlterReplicaLogDirs(resp))
        }
        RequestKind::DescribeQuorum(_) => {
            refuse_top!(DescribeQuorum, DescribeQuorumResponse, CLUSTER)
        }
        RequestKind::AddRaftVoter(_) => refuse_top!(AddRaftVoter, AddRaftVoterResponse, CLUSTER),
        RequestKind::RemoveRaftVoter(_) => {
            refuse_top!(RemoveRaftVoter, RemoveRaftVoterResponse, CLUSTER)
        }
        RequestKind::UnregisterBroker(_) => {
            refuse_top!(UnregisterBroker, UnregisterBrokerResponse, CLUSTER)
        }
        // As Kafka: the top-level error, repeated for every feature (v0–v1 read them).
        RequestKind::UpdateFeatures(r) => {
            let mut resp = UpdateFeaturesResponse::default();
            resp.error_code = CLUSTER;
            resp.results = r
                .feature_updates
                .iter()
                .map(|u| {
                    let mut out = update_features_response::UpdatableFeatureResult::default();
                    out.feature = u.feature.clone();
                    out.error_code = CLUSTER;
                    out
                })
                .collect();
            Gate::Refuse(ResponseKind::UpdateFeatures(resp))
        }
        // As Kafka: the top-level error, repeated on every named partition.
        RequestKind::ElectLeaders(r) => {
            let mut resp = ElectLeadersResponse::default();
            resp.error_code = CLUSTER;
            resp.replica_election_results = r
                .topic_partitions
                .iter()
                .flatten()
                .map(|t| {
                    let mut out = elect_leaders_response::ReplicaElectionResult::default();
                    out.topic = t.topic.clone();
                    out.partition_result = t
                        .partitions
                        .iter()
                        .map(|p| {
                            let mut pr = elect_leaders_response::PartitionResult::default();
                            pr.partition_id = *p;
                            pr.error_code = CLUSTER;
                            pr
                        })
                        .collect();
                    out
                })
                .collect();
            Gate::Refuse(ResponseKind::ElectLeaders(resp))
        }
        RequestKind::CreateAcls(r) => {
            let mut resp = CreateAclsResponse::default();
            resp.results = r
                .creations
                .iter()
                .map(|_| {
                    let mut e = create_acls_response::AclCreationResult::default();
                    e.error_code = CLUSTER;
                    e
                })
                .collect();
            Gate::Refuse(ResponseKind::CreateAcls(resp))
        }
        RequestKind::DeleteAcls(r) => {
            let mut resp = DeleteAclsResponse::default();
            resp.filter_results = r
                .filters
                .iter()
                .map(|_| {
                    let mut e = delete_acls_response::DeleteAclsFilterResult::default();
                    e.error_code = CLUSTER;
                    e
                })
                .collect();
            Gate::Refuse(ResponseKind::DeleteAcls(resp))
        }
        other => Gate::Pass(other, None),
    }
}

/// A share-group state RPC refused: every partition CLUSTER_AUTHORIZATION_FAILED.
macro_rules! state_refusal {
    ($kind:ident, $r:expr, $resp:ty, $module:ident, $result:ident) => {{
        let mut resp = <$resp>::default();
        for t in &$r.topics {
            let mut out = $module::$result::default();
            out.topic_id = t.topic_id;
            out.partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let mut e = $module::PartitionResult::default();
                    e.partition = p.partition;
                    e.error_code = CLUSTER;
                    e
                })
                .collect();
            resp.results.push(out);
        }
        Gate::Refuse(ResponseKind::$kind(resp))
    }};
}

/// Initialize/Read/Write/DeleteShareGroupState (broker to share coordinator): CLUSTER_ACTION.
pub(super) fn share_state(a: &Authz, body: RequestKind) -> Gate {
    if a.cluster(Op::ClusterAction) {
        return Gate::Pass(body, None);
    }
    match body {
        RequestKind::InitializeShareGroupState(r) => state_refusal!(
            InitializeShareGroupState,
            r,
            InitializeShareGroupStateResponse,
            initialize_share_group_state_response,
            InitializeStateResult
        ),
        RequestKind::ReadShareGroupState(r) => state_refusal!(
            ReadShareGroupState,
            r,
            ReadShareGroupStateResponse,
            read_share_group_state_response,
            ReadStateResult
        ),
        RequestKind::WriteShareGroupState(r) => state_refusal!(
            WriteShareGroupState,
            r,
            WriteShareGroupStateResponse,
            write_share_group_state_response,
            WriteStateResult
        ),
        RequestKind::DeleteShareGroupState(r) => state_refusal!(
            DeleteShareGroupState,
            r,
            DeleteShareGroupStateResponse,
            delete_share_group_state_response,
            DeleteStateResult
        ),
        other => Gate::Pass(other, None),
    }
}

/// The SCRAM credential APIs (KIP-554): DescribeUserScramCredentials needs DESCRIBE on the
/// cluster (a top-level CLUSTER_AUTHORIZATION_FAILED), AlterUserScramCredentials ALTER (each
/// user's result CLUSTER_AUTHORIZATION_FAILED), as Kafka.
pub(super) fn scram_credentials(a: &Authz, body: RequestKind) -> Gate {
    match body {
        RequestKind::DescribeUserScramCredentials(r) => {
            if a.cluster(Op::Describe) {
                return Gate::Pass(RequestKind::DescribeUserScramCredentials(r), None);
            }
            refuse_top!(
                DescribeUserScramCredentials,
                DescribeUserScramCredentialsResponse,
                CLUSTER
            )
        }
        RequestKind::AlterUserScramCredentials(r) => {
            if a.cluster(Op::Alter) {
                return Gate::Pass(RequestKind::AlterUserScramCredentials(r), None);
            }
            let mut users: Vec<&StrBytes> = r
                .deletions
                .iter()
                .map(|d| &d.name)
                .chain(r.upsertions.iter().map(|u| &u.name))
                .collect();
            users.sort();
            users.dedup();
            let mut resp = AlterUserScramCredentialsResponse::default();
            resp.results = users
                .into_iter()
                .map(|u| {
                    let mut e =
                        alter_user_scram_credentials_response::AlterUserScramCredentialsResult::default();
                    e.user = u.clone();
                    e.error_code = CLUSTER;
                    e
                })
                .collect();
            Gate::Refuse(ResponseKind::AlterUserScramCredentials(resp))
        }
        other => Gate::Pass(other, None),
    }
}

/// The client quota APIs, as Kafka: DescribeClientQuotas needs DESCRIBE_CONFIGS on the cluster
/// (a top-level CLUSTER_AUTHORIZATION_FAILED), AlterClientQuotas ALTER_CONFIGS (each entry's
/// result CLUSTER_AUTHORIZATION_FAILED).
pub(super) fn client_quotas(a: &Authz, body: RequestKind) -> Gate {
    match body {
        RequestKind::DescribeClientQuotas(r) => {
            if a.cluster(Op::DescribeConfigs) {
                return Gate::Pass(RequestKind::DescribeClientQuotas(r), None);
            }
            refuse_top!(DescribeClientQuotas, DescribeClientQuotasResponse, CLUSTER)
        }
        RequestKind::AlterClientQuotas(r) => {
            if a.cluster(Op::AlterConfigs) {
                return Gate::Pass(RequestKind::AlterClientQuotas(r), None);
            }
            let mut resp = AlterClientQuotasResponse::default();
            resp.entries = r
                .entries
                .iter()
                .map(|e| {
                    let mut out = alter_client_quotas_response::EntryData::default();
                    out.error_code = CLUSTER;
                    out.error_message = Some(StrBytes::from_static_str("Authorization failed."));
                    out.entity = e
                        .entity
                        .iter()
                        .map(|d| {
                            let mut x = alter_client_quotas_response::EntityData::default();
                            x.entity_type = d.entity_type.clone();
                            x.entity_name = d.entity_name.clone();
                            x
                        })
                        .collect();
                    out
                })
                .collect();
            Gate::Refuse(ResponseKind::AlterClientQuotas(resp))
        }
        other => Gate::Pass(other, None),
    }
}
