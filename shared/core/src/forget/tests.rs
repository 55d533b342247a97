use super::*;
use crate::consume::{store_batch, StreamRecord};
use crate::contract::sample_event;
use crate::event::EventType;
use crate::memory::MemoryKv;
use chrono::{Duration, TimeZone, Utc};

fn person(id: &str) -> Person {
    Person::new(PersonField::UserId, id).expect("a valid id")
}

#[test]
fn a_request_that_names_nothing_or_too_much_is_refused() {
    assert_eq!(
        Person::new(PersonField::UserId, "  "),
        Err(PersonError { field: "user_id", rule: "must not be empty" })
    );
    assert_eq!(
        Person::new(PersonField::AnonymousId, &"x".repeat(257)),
        Err(PersonError { field: "anonymous_id", rule: "must be at most 256 bytes" })
    );
    assert!(Person::new(PersonField::UserId, "a\0b").is_err());
    assert!(Person::new(PersonField::UserId, "'); DROP TABLE x; --").is_ok(), "hostile text is an id like any other");
}

#[test]
fn a_person_owns_the_events_that_carry_their_id_in_the_named_field() {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).single().expect("time");
    let mut event = sample_event("e1", EventType::PageView, at, "EU", None);
    event.user_id = Some("u1".into());
    assert!(person("u1").owns(&event));
    assert!(!person("u2").owns(&event));
    assert!(Person::new(PersonField::AnonymousId, "anon-e1").expect("id").owns(&event));
    assert!(!Person::new(PersonField::AnonymousId, "u1").expect("id").owns(&event), "another field's id");
    assert!(person("u1").owns_record(&event.to_record_bytes()));
    assert!(!person("u1").owns_record(b"not an event"));
}

#[test]
fn declared_person_columns_win_and_the_field_names_are_the_default() {
    let declared = PersonColumns { user_id: Some("customer_id".into()), anonymous_id: None };
    let columns = ["id", "customer_id", "anonymous_id"];
    assert_eq!(declared.column(PersonField::UserId, columns.into_iter()), Some("customer_id"));
    assert_eq!(declared.column(PersonField::AnonymousId, columns.into_iter()), Some("anonymous_id"));
    assert_eq!(PersonColumns::default().column(PersonField::UserId, columns.into_iter()), None);
}

/// Many events over many hours, a few of them one person's: after forgetting, the KV
/// store holds none of theirs (item or marker) and every other item unchanged.
#[test]
fn forgetting_in_the_kv_store_removes_the_persons_items_and_markers_only() {
    futures::executor::block_on(forget_in_kv());
}

async fn forget_in_kv() {
    let kv = MemoryKv::default();
    let layout = KvLayout::default();
    let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().expect("time");
    let records: Vec<StreamRecord> = (0..2_500i64)
        .map(|n| {
            let mut event =
                sample_event(&format!("e{n}"), EventType::PageView, start + Duration::minutes(n * 7), "EU", None);
            event.user_id = Some(if n % 100 == 7 { "u-gone".into() } else { format!("u{}", n % 13) });
            StreamRecord { shard_id: "0".into(), sequence_number: n.to_string(), data: event.to_record_bytes() }
        })
        .collect();
    let outcome = store_batch(&records, &kv, &layout).await;
    assert_eq!(outcome.written, 2_500);
    let before = kv.items();

    let removed = forget_kv(&kv, &layout, &person("u-gone")).await.expect("forget");

    assert_eq!(removed, 25);
    let after = kv.items();
    assert_eq!(after.len(), before.len() - 50, "25 items and their 25 markers");
    assert!(after.iter().all(|item| !String::from_utf8_lossy(&item.value).contains("u-gone")));
    let gone: Vec<String> = (0..2_500).filter(|n| n % 100 == 7).map(|n| format!("web/e{n}")).collect();
    assert!(after.iter().all(|item| !gone.iter().any(|id| item.key.sk.ends_with(id.as_str()))));
    assert_eq!(forget_kv(&kv, &layout, &person("u-gone")).await.expect("again"), 0);
}
