//! The quota model validates like Kafka and round-trips through JSON snapshots.

use super::*;

fn ent(pairs: &[(&str, Option<&str>)]) -> QuotaEntity {
    pairs
        .iter()
        .map(|(t, n)| (t.to_string(), n.map(str::to_string)))
        .collect()
}

#[test]
fn set_replace_and_remove_quotas() {
    let mut s = QuotaStore::default();
    let e = ent(&[(CLIENT_ID, Some("slow"))]);
    s.apply(&e, PRODUCER_BYTE_RATE, Some(1024.0)).unwrap();
    s.apply(&e, PRODUCER_BYTE_RATE, Some(2048.0)).unwrap();
    assert_eq!(s.get(&e, PRODUCER_BYTE_RATE), Some(2048.0));
    s.apply(&e, REQUEST_PERCENTAGE, Some(12.5)).unwrap();
    s.apply(&e, PRODUCER_BYTE_RATE, None).unwrap();
    assert_eq!(s.get(&e, PRODUCER_BYTE_RATE), None);
    s.apply(&e, REQUEST_PERCENTAGE, None).unwrap();
    assert!(s.is_empty(), "an entity without quotas disappears");
    // Removing what is not there is a no-op (a retried proposal).
    s.apply(&e, REQUEST_PERCENTAGE, None).unwrap();
}

#[test]
fn bad_entities_keys_and_values_are_refused_and_change_nothing() {
    let mut s = QuotaStore::default();
    let ok = ent(&[(USER, Some("alice")), (CLIENT_ID, None)]);
    for (e, k, v) in [
        (ent(&[]), PRODUCER_BYTE_RATE, 1.0),
        (ent(&[("group", Some("g"))]), PRODUCER_BYTE_RATE, 1.0),
        (ent(&[(USER, Some(""))]), PRODUCER_BYTE_RATE, 1.0),
        (
            ent(&[(IP, Some("not-an-ip"))]),
            CONNECTION_CREATION_RATE,
            1.0,
        ),
        (
            ent(&[(IP, None), (USER, None)]),
            CONNECTION_CREATION_RATE,
            1.0,
        ),
        (ok.clone(), "bogus_rate", 1.0),
        (ok.clone(), CONNECTION_CREATION_RATE, 1.0),
        (ok.clone(), PRODUCER_BYTE_RATE, 0.0),
        (ok.clone(), PRODUCER_BYTE_RATE, -5.0),
        (ok.clone(), PRODUCER_BYTE_RATE, 1.5),
        (ok.clone(), REQUEST_PERCENTAGE, f64::NAN),
    ] {
        assert!(s.apply(&e, k, Some(v)).is_err(), "{e:?} {k} {v}");
    }
    assert!(s.is_empty());
    s.apply(
        &ent(&[(IP, Some("10.0.0.1"))]),
        CONNECTION_CREATION_RATE,
        Some(5.0),
    )
    .unwrap();
}

#[test]
fn filters_match_exact_default_and_specified_strictly_or_not() {
    let u_c = ent(&[(USER, Some("alice")), (CLIENT_ID, Some("app"))]);
    let u = ent(&[(USER, Some("alice"))]);
    let du = ent(&[(USER, None)]);
    let c = |t: &str, m: FilterMatch| (t.to_string(), m);
    let exact = [c(USER, FilterMatch::Exact("alice".into()))];
    assert!(filter_matches(&u, &exact, true));
    assert!(!filter_matches(&u_c, &exact, true));
    assert!(filter_matches(&u_c, &exact, false));
    assert!(!filter_matches(&du, &exact, false));
    let def = [c(USER, FilterMatch::Default)];
    assert!(filter_matches(&du, &def, true));
    assert!(!filter_matches(&u, &def, false));
    let spec = [c(USER, FilterMatch::Specified)];
    assert!(filter_matches(&du, &spec, false) && filter_matches(&u_c, &spec, false));
    assert!(!filter_matches(&u_c, &spec, true));
    assert!(filter_matches(&u_c, &[], false));
    assert!(!filter_matches(&u_c, &[], true));
}

#[test]
fn the_store_round_trips_through_json() {
    let mut s = QuotaStore::default();
    s.apply(
        &ent(&[(USER, None), (CLIENT_ID, Some("x"))]),
        CONSUMER_BYTE_RATE,
        Some(100.0),
    )
    .unwrap();
    s.apply(&ent(&[(CLIENT_ID, None)]), REQUEST_PERCENTAGE, Some(0.5))
        .unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert_eq!(serde_json::from_str::<QuotaStore>(&json).unwrap(), s);
}
