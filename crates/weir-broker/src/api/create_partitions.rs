//! CreatePartitions (key 37): grow topics (increase only), optionally validate only.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use kafka_protocol::protocol::StrBytes;

use crate::admin::proposal::deadline_of;
use crate::admin::topics::TopicAdmin;

/// Grow each topic to its requested partition count.
pub async fn handle(
    admin: &TopicAdmin,
    _version: i16,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let deadline = deadline_of(req.timeout_ms);
    let mut resp = CreatePartitionsResponse::default();
    for t in req.topics {
        let mut r = CreatePartitionsTopicResult::default();
        r.name = t.name.clone();
        if let Err(e) = admin
            .create_partitions(&t.name.0, t.count, req.validate_only, deadline)
            .await
        {
            r.error_code = e.code();
            r.error_message = Some(StrBytes::from_string(e.message()));
        }
        resp.results.push(r);
    }
    resp
}
