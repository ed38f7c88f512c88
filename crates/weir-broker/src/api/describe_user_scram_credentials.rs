//! DescribeUserScramCredentials (key 50): each user's SCRAM mechanisms and iteration counts
//! (never salts or keys), from the replicated metadata.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::metadata::view::MetadataView;

/// Describe the users named in the request, or every user with a credential when the list is
/// null or empty (as Kafka). A named user without credentials: RESOURCE_NOT_FOUND; a user
/// named twice: DUPLICATE_RESOURCE.
pub async fn handle(
    view: &MetadataView,
    _version: i16,
    req: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let image = view.image();
    let mut resp = DescribeUserScramCredentialsResponse::default();
    let names: Vec<String> = match &req.users {
        Some(users) if !users.is_empty() => users.iter().map(|u| u.name.to_string()).collect(),
        _ => image.scram_credentials.keys().cloned().collect(),
    };
    for (i, name) in names.iter().enumerate() {
        let mut r = DescribeUserScramCredentialsResult::default();
        r.user = StrBytes::from_string(name.clone());
        if names[..i].contains(name) {
            continue;
        }
        if names.iter().filter(|n| *n == name).count() > 1 {
            r.error_code = ResponseError::DuplicateResource.code();
            r.error_message = Some(StrBytes::from_string(format!(
                "Cannot describe SCRAM credentials for the same user twice in a single request: {name}"
            )));
        } else {
            match image.scram_credentials.get(name) {
                Some(creds) => {
                    r.credential_infos = creds
                        .iter()
                        .map(|(mechanism, c)| {
                            let mut info = CredentialInfo::default();
                            info.mechanism = *mechanism;
                            info.iterations = c.iterations;
                            info
                        })
                        .collect();
                }
                None => {
                    r.error_code = ResponseError::ResourceNotFound.code();
                    r.error_message = Some(StrBytes::from_string(format!(
                        "Attempt to describe a user credential that does not exist: {name}"
                    )));
                }
            }
        }
        resp.results.push(r);
    }
    resp
}
