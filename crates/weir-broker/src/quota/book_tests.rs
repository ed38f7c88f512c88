//! Kafka's precedence of quota entities and sensor sharing.

use super::*;
use weir_meta::quota::PRODUCER_BYTE_RATE as P;

fn ent(pairs: &[(&str, Option<&str>)]) -> QuotaEntity {
    pairs
        .iter()
        .map(|(t, n)| (t.to_string(), n.map(str::to_string)))
        .collect()
}

/// An entity as (type, name or default) pairs.
type Spec<'a> = &'a [(&'a str, Option<&'a str>)];

fn store(entries: &[(Spec, f64)]) -> QuotaStore {
    let mut s = QuotaStore::default();
    for (e, v) in entries {
        s.apply(&ent(e), P, Some(*v)).unwrap();
    }
    s
}

#[test]
fn the_most_specific_entity_wins_in_kafkas_order() {
    let all: Vec<(Spec, f64)> = vec![
        (&[(CLIENT_ID, None)], 8.0),
        (&[(CLIENT_ID, Some("c"))], 7.0),
        (&[(USER, None)], 6.0),
        (&[(USER, None), (CLIENT_ID, None)], 5.0),
        (&[(USER, None), (CLIENT_ID, Some("c"))], 4.0),
        (&[(USER, Some("u"))], 3.0),
        (&[(USER, Some("u")), (CLIENT_ID, None)], 2.0),
        (&[(USER, Some("u")), (CLIENT_ID, Some("c"))], 1.0),
    ];
    // With the k most general entities present, the most specific of them wins.
    for k in 1..=all.len() {
        let s = store(&all[..k]);
        let (v, _, _) = resolve(&s, P, "u", "c").unwrap();
        assert_eq!(v, all[k - 1].1, "with {k} entities");
    }
    let s = store(&all);
    assert_eq!(resolve(&s, P, "other", "c").unwrap().0, 4.0);
    assert_eq!(resolve(&s, P, "other", "x").unwrap().0, 5.0);
    assert!(resolve(&QuotaStore::default(), P, "u", "c").is_none());
}

#[test]
fn sensors_are_shared_as_kafkas_metric_tags_say() {
    let s = store(&[(&[(USER, Some("u"))], 1000.0)]);
    assert_eq!(
        resolve(&s, P, "u", "a").unwrap(),
        (1000.0, "u".into(), "".into())
    );
    let s = store(&[(&[(CLIENT_ID, None)], 1000.0)]);
    assert_eq!(
        resolve(&s, P, "u", "a").unwrap(),
        (1000.0, "".into(), "a".into())
    );
    // Two clients of one user share the user's rate.
    let s = store(&[(&[(USER, Some("u"))], 1000.0)]);
    let cfg = RateConfig::default();
    let mut book = QuotaBook::default();
    assert_eq!(book.record(cfg, &s, P, ("u", "a"), 6000.0, 0), 0);
    assert!(book.record(cfg, &s, P, ("u", "b"), 6000.0, 0) > 0);
    assert_eq!(book.len(), 1);
    // A client without a quota is never throttled.
    assert_eq!(book.record(cfg, &s, P, ("v", "a"), 1e12, 0), 0);
}
