//! DescribeClientQuotas (key 48): the quotas of this broker's metadata image whose entity matches
//! the filter (components with match type EXACT 0 / DEFAULT 1 / SPECIFIED 2; `strict` excludes
//! entities with other entity types). An invalid filter (unknown match type or entity type, a
//! type given twice, EXACT without a name, ip combined with user / client-id) is INVALID_REQUEST.
//! Needs DESCRIBE_CONFIGS on the cluster (checked by `crate::authz`).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{DescribeClientQuotasRequest, DescribeClientQuotasResponse};
use kafka_protocol::protocol::StrBytes;
use weir_meta::quota::{filter_matches, FilterMatch, CLIENT_ID, IP, USER};

use crate::metadata::view::MetadataView;

/// Parse the filter components, or say why they are invalid.
fn components(req: &DescribeClientQuotasRequest) -> Result<Vec<(String, FilterMatch)>, String> {
    let mut out: Vec<(String, FilterMatch)> = Vec::new();
    for c in &req.components {
        let t = c.entity_type.to_string();
        if ![USER, CLIENT_ID, IP].contains(&t.as_str()) {
            return Err(format!("unknown quota entity type {t:?}"));
        }
        if out.iter().any(|(have, _)| *have == t) {
            return Err(format!("entity type {t:?} is given more than once"));
        }
        let m = match (c.match_type, &c._match) {
            (0, Some(n)) => FilterMatch::Exact(n.to_string()),
            (0, None) => return Err(format!("match type EXACT for {t} needs a name")),
            (1, _) => FilterMatch::Default,
            (2, _) => FilterMatch::Specified,
            (m, _) => return Err(format!("unknown match type {m}")),
        };
        out.push((t, m));
    }
    let has = |t: &str| out.iter().any(|(x, _)| x == t);
    if has(IP) && (has(USER) || has(CLIENT_ID)) {
        return Err("an ip filter cannot be combined with user or client-id".into());
    }
    Ok(out)
}

/// The matching entities with their quotas (no particular order guaranteed beyond the image's).
pub async fn handle(
    view: &MetadataView,
    _version: i16,
    req: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    let mut resp = DescribeClientQuotasResponse::default();
    let comps = match components(&req) {
        Ok(c) => c,
        Err(why) => {
            resp.error_code = ResponseError::InvalidRequest.code();
            resp.error_message = Some(StrBytes::from_string(why));
            return resp;
        }
    };
    let image = view.image();
    let entries = image
        .quotas
        .entities
        .iter()
        .filter(|(entity, _)| filter_matches(entity, &comps, req.strict))
        .map(|(entity, values)| {
            let mut e = EntryData::default();
            e.entity = entity
                .iter()
                .map(|(t, n)| {
                    let mut d = EntityData::default();
                    d.entity_type = StrBytes::from_string(t.clone());
                    d.entity_name = n.clone().map(StrBytes::from_string);
                    d
                })
                .collect();
            e.values = values
                .iter()
                .map(|(k, v)| {
                    let mut d = ValueData::default();
                    d.key = StrBytes::from_string(k.clone());
                    d.value = v.0;
                    d
                })
                .collect();
            e
        })
        .collect();
    resp.entries = Some(entries);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_client_quotas_request::ComponentData;

    fn req(parts: &[(&str, i8, Option<&str>)]) -> DescribeClientQuotasRequest {
        let mut r = DescribeClientQuotasRequest::default();
        for (t, m, n) in parts {
            let mut c = ComponentData::default();
            c.entity_type = StrBytes::from_string(t.to_string());
            c.match_type = *m;
            c._match = n.map(|n| StrBytes::from_string(n.to_string()));
            r.components.push(c);
        }
        r
    }

    #[test]
    fn filters_parse_as_kafka_and_bad_ones_are_refused() {
        assert_eq!(
            components(&req(&[(USER, 0, Some("u")), (CLIENT_ID, 1, None)])).unwrap(),
            vec![
                (USER.to_string(), FilterMatch::Exact("u".into())),
                (CLIENT_ID.to_string(), FilterMatch::Default)
            ]
        );
        assert_eq!(
            components(&req(&[(IP, 2, None)])).unwrap(),
            vec![(IP.to_string(), FilterMatch::Specified)]
        );
        for bad in [
            req(&[("group", 2, None)]),
            req(&[(USER, 0, None)]),
            req(&[(USER, 7, None)]),
            req(&[(USER, 2, None), (USER, 1, None)]),
            req(&[(IP, 2, None), (USER, 2, None)]),
        ] {
            assert!(components(&bad).is_err(), "{bad:?}");
        }
    }
}
