//! Tests of the `__share_group_state` record format and of state merging.

use crate::records::{self, RecordKind, ShareValue};
use crate::*;

fn key() -> ShareKey {
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = i as u8;
    }
    ShareKey::new("g", TopicId(id), 3)
}

fn b(f: i64, l: i64, state: DeliveryState, c: i16) -> StateBatch {
    StateBatch {
        first_offset: f,
        last_offset: l,
        state,
        delivery_count: c,
    }
}

#[test]
fn topic_ids_print_as_kafka_uuids() {
    assert_eq!(TopicId([0; 16]).to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
    // base64url(00 01 .. 0f) without padding.
    assert_eq!(key().topic_id.to_string(), "AAECAwQFBgcICQoLDA0ODw");
    assert_eq!(key().coordinator_key(), "g:AAECAwQFBgcICQoLDA0ODw:3");
}

#[test]
fn keys_are_type_then_group_topic_partition() {
    let k = records::encode_key(RecordKind::Update, &key());
    let mut want = vec![0, 1, 0, 1, b'g'];
    want.extend(0u8..16);
    want.extend([0, 0, 0, 3]);
    assert_eq!(k, want);
    assert_eq!(
        records::decode_key(&k).unwrap(),
        Some((RecordKind::Update, key()))
    );
    let s = records::encode_key(RecordKind::Snapshot, &key());
    assert_eq!(&s[..2], &[0, 0]);
    assert_eq!(
        records::decode_key(&s).unwrap().unwrap().0,
        RecordKind::Snapshot
    );
    assert_eq!(
        records::decode_key(&[0, 9, 0, 0]).unwrap(),
        None,
        "unknown type skipped"
    );
    assert!(records::decode_key(&k[..k.len() - 1]).is_err());
}

#[test]
fn values_round_trip_and_are_bounded() {
    let v = ShareValue {
        snapshot_epoch: 2,
        state_epoch: 1,
        leader_epoch: 7,
        start_offset: 100,
        create_timestamp: 11,
        write_timestamp: 12,
        delivery_complete_count: 3,
        batches: vec![
            b(100, 104, DeliveryState::Available, 2),
            b(105, 105, DeliveryState::DeadLetterPending, 5),
            b(106, 110, DeliveryState::Archived, 1),
        ],
    };
    let snap = records::encode_value(RecordKind::Snapshot, &v);
    assert_eq!(&snap[..2], &[0, 0], "value version 0");
    assert_eq!(
        records::decode_value(RecordKind::Snapshot, &snap).unwrap(),
        Some(v.clone())
    );
    let upd = records::encode_value(RecordKind::Update, &v);
    assert_eq!(upd.len(), snap.len() - 20, "no state epoch nor timestamps");
    let got = records::decode_value(RecordKind::Update, &upd)
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        ShareValue {
            state_epoch: 0,
            create_timestamp: 0,
            write_timestamp: 0,
            ..v.clone()
        }
    );
    // Without the tagged field the count is unknown (-1).
    let v2 = ShareValue {
        delivery_complete_count: -1,
        ..v.clone()
    };
    let enc = records::encode_value(RecordKind::Snapshot, &v2);
    assert_eq!(enc.len(), snap.len() - 6);
    assert_eq!(
        records::decode_value(RecordKind::Snapshot, &enc)
            .unwrap()
            .unwrap()
            .delivery_complete_count,
        -1
    );
    for cut in 0..snap.len() {
        assert!(
            records::decode_value(RecordKind::Snapshot, &snap[..cut]).is_err(),
            "cut {cut}"
        );
    }
    assert_eq!(
        records::decode_value(RecordKind::Snapshot, &[0, 5]).unwrap(),
        None
    );
    // A huge array length with no data errors without allocating it.
    let mut bad = snap[..2 + 4 + 4 + 4 + 8 + 16].to_vec();
    bad.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(records::decode_value(RecordKind::Snapshot, &bad).is_err());
    // Acquired (1) is never a persisted state.
    let mut acquired = records::encode_value(RecordKind::Update, &v);
    let pos = 2 + 4 + 4 + 8 + 1 + 16;
    acquired[pos] = 1;
    assert!(records::decode_value(RecordKind::Update, &acquired).is_err());
}

#[test]
fn merging_overrides_covered_ranges_and_trims_below_the_start() {
    let old = vec![
        b(0, 9, DeliveryState::Available, 1),
        b(10, 19, DeliveryState::Acknowledged, 1),
    ];
    let new = vec![b(5, 12, DeliveryState::Archived, 2)];
    assert_eq!(
        merge_batches(&old, &new, 0),
        vec![
            b(0, 4, DeliveryState::Available, 1),
            b(5, 12, DeliveryState::Archived, 2),
            b(13, 19, DeliveryState::Acknowledged, 1)
        ]
    );
    assert_eq!(
        merge_batches(&old, &new, 7),
        vec![
            b(7, 12, DeliveryState::Archived, 2),
            b(13, 19, DeliveryState::Acknowledged, 1)
        ]
    );
    // Adjacent equal batches coalesce; an inner override splits a batch.
    assert_eq!(
        merge_batches(
            &[b(0, 4, DeliveryState::Available, 1)],
            &[b(5, 6, DeliveryState::Available, 1)],
            0
        ),
        vec![b(0, 6, DeliveryState::Available, 1)]
    );
    assert_eq!(
        merge_batches(
            &[b(0, 9, DeliveryState::Available, 1)],
            &[b(3, 3, DeliveryState::Archived, 1)],
            0
        ),
        vec![
            b(0, 2, DeliveryState::Available, 1),
            b(3, 3, DeliveryState::Archived, 1),
            b(4, 9, DeliveryState::Available, 1)
        ]
    );
    let mut s = PersistedState {
        start_offset: 0,
        batches: old.clone(),
        ..PersistedState::default()
    };
    s.merge(4, -1, &new);
    assert_eq!((s.start_offset, s.leader_epoch, s.batches.len()), (0, 4, 3));
    s.merge(4, 15, &[]);
    assert_eq!(s.batches, vec![b(15, 19, DeliveryState::Acknowledged, 1)]);
}
