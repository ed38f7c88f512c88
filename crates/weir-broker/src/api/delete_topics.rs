//! DeleteTopics (key 20): by name (all versions) or by topic id (v6+).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::admin::proposal::deadline_of;
use crate::admin::topics::TopicAdmin;
use crate::metadata::view::MetadataView;

/// Delete each topic; unknown names get UNKNOWN_TOPIC_OR_PARTITION, unknown ids UNKNOWN_TOPIC_ID.
pub async fn handle(
    admin: &TopicAdmin,
    view: &MetadataView,
    version: i16,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let mut targets: Vec<(Option<String>, uuid::Uuid)> = Vec::new();
    if version >= 6 {
        for t in &req.topics {
            targets.push((t.name.as_ref().map(|n| n.0.to_string()), t.topic_id));
        }
    } else {
        for n in &req.topic_names {
            targets.push((Some(n.0.to_string()), uuid::Uuid::nil()));
        }
    }
    let deadline = deadline_of(req.timeout_ms);
    let mut resp = DeleteTopicsResponse::default();
    for (name, id) in targets {
        let mut r = DeletableTopicResult::default();
        r.topic_id = id;
        let resolved = match (&name, id.is_nil()) {
            (Some(n), _) => Some(n.clone()),
            (None, false) => view.topic_by_id(id).map(|m| m.name),
            (None, true) => None,
        };
        r.name = resolved
            .clone()
            .map(|n| TopicName(StrBytes::from_string(n)));
        match resolved {
            None => {
                r.error_code = ResponseError::UnknownTopicId.code();
                r.error_message = Some(StrBytes::from_static_str("unknown topic id"));
            }
            Some(n) => match admin.delete_topic(&n, deadline).await {
                Ok(meta) => r.topic_id = meta.id,
                Err(e) => {
                    r.error_code = e.code();
                    r.error_message = Some(StrBytes::from_string(e.message()));
                }
            },
        }
        resp.responses.push(r);
    }
    resp
}
