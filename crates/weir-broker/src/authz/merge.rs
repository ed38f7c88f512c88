//! Plumbing shared by the per-API checks: their outcome ([`Gate`]), the error codes, taking refused items out of a
//! request, and the macros that build a refusal or a merge into the handler's response.

use kafka_protocol::messages::{RequestKind, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use crate::metadata::view::MetadataView;

/// What the pipeline does after a check: merges the refused parts of a request into the
/// handler's response.
pub type Post = Box<dyn FnOnce(ResponseKind) -> ResponseKind + Send>;

/// The outcome of the authorization checks of one request.
pub enum Gate {
    /// Run the handler on this request (the refused parts taken out), then apply the merge.
    Pass(RequestKind, Option<Post>),
    /// Answer with this response; the handler is not run.
    Refuse(ResponseKind),
    /// Close the connection (an API the checks do not know), with the reason for the log.
    Close(String),
}

/// TOPIC_AUTHORIZATION_FAILED.
pub(super) const TOPIC: i16 = 29;
/// GROUP_AUTHORIZATION_FAILED.
pub(super) const GROUP: i16 = 30;
/// CLUSTER_AUTHORIZATION_FAILED.
pub(super) const CLUSTER: i16 = 31;
/// TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
pub(super) const TXN: i16 = 53;

/// Move the items of `v` that `keep` refuses out of it, in order; returns them.
pub(super) fn split<T>(v: &mut Vec<T>, mut keep: impl FnMut(&T) -> bool) -> Vec<T> {
    let (kept, refused): (Vec<T>, Vec<T>) = std::mem::take(v).into_iter().partition(|x| keep(x));
    *v = kept;
    refused
}

/// The name of a topic given by name or (when `id` is not nil) by id; None for an unknown id
/// (left to the handler, which answers UNKNOWN_TOPIC_ID).
pub(super) fn topic_name(view: &MetadataView, name: &TopicName, id: Uuid) -> Option<String> {
    if id.is_nil() {
        Some(name.0.to_string())
    } else {
        view.topic_by_id(id).map(|m| m.name)
    }
}

/// A topic name for a response.
pub(super) fn tn(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// `Gate::Pass` of the request with a merge of `$r` (the handler's response of kind `$kind`)
/// by `$body`, or without one when `$none` holds.
macro_rules! merge {
    ($kind:ident, |$r:ident| $body:block) => {
        Some(Box::new(move |resp: ResponseKind| match resp {
            ResponseKind::$kind(mut $r) => {
                $body;
                ResponseKind::$kind($r)
            }
            other => other,
        }) as $crate::authz::merge::Post)
    };
}

/// `Gate::Refuse` with a default response of type `$ty` whose top-level error is `$code`.
macro_rules! refuse_top {
    ($kind:ident, $ty:ty, $code:expr) => {{
        let mut r = <$ty>::default();
        r.error_code = $code;
        Gate::Refuse(ResponseKind::$kind(r))
    }};
}

pub(super) use {merge, refuse_top};
