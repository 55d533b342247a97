//! stream-store: write a batch of stream records as time-bucketed key-value items.
//!
//! An event is one event by its source and id, whatever `occurred_at` a retry carries
//! (a client that re-stamps its queue on resend). The item's key holds the time, so the
//! key alone cannot tell; the event's marker can (see `kv_key`). In order:
//! 1. read the markers of the batch's events;
//! 2. skip every event whose marker points at another item (a retry with another
//!    time), and every later copy of an id within the batch: duplicates, absorbed;
//! 3. put the items (put-if-absent: an exact redelivery is absorbed here);
//! 4. put the missing markers.
//!
//! A crash between 3 and 4 leaves an item without its marker; the stream delivers the
//! same record again (the checkpoint had not moved), its item is absorbed and its
//! marker written. A later retry with another time is in the same stream shard, after
//! it, so it always finds the marker.

use std::collections::HashSet;

use super::{decode, fail_all, BatchOutcome, StreamRecord};
use crate::kv_key::{KvItem, KvLayout};
use crate::ports::kv::{KvError, KvStore, PutItemOutcome};

pub async fn store_batch(records: &[StreamRecord], kv: &dyn KvStore, layout: &KvLayout) -> BatchOutcome {
    let (decoded, mut failures) = decode(records);
    let mut outcome = BatchOutcome::default();
    if decoded.events.is_empty() {
        outcome.failures = failures;
        return outcome;
    }
    match write(&decoded, kv, layout).await {
        Ok((written, duplicates)) => {
            outcome.written = written;
            outcome.duplicates = duplicates;
        }
        Err(error) => {
            failures.extend(fail_all(decoded.records.iter().copied(), error.is_retryable(), &error.to_string()));
        }
    }
    outcome.failures = failures;
    outcome
}

/// Steps 1–4 above; `(written, duplicates)`.
async fn write(decoded: &super::Decoded<'_>, kv: &dyn KvStore, layout: &KvLayout) -> Result<(usize, usize), KvError> {
    let markers = kv.get_items(decoded.events.iter().map(|e| layout.marker_key(e)).collect()).await?;
    let mut seen = HashSet::with_capacity(decoded.events.len());
    let mut items = Vec::with_capacity(decoded.events.len());
    let mut new_markers = Vec::new();
    let mut duplicates = 0;
    for ((record, event), marker) in decoded.records.iter().zip(&decoded.events).zip(&markers) {
        let key = layout.key_for(event);
        let another_time = marker.as_ref().is_some_and(|value| !KvLayout::marker_points_at(value, &key));
        if another_time || !seen.insert(event.idempotency_key()) {
            duplicates += 1;
            continue;
        }
        if marker.is_none() {
            new_markers.push(layout.marker_for(event, &key));
        }
        // The record already holds the event's JSON: store those very bytes, unchanged.
        items.push(KvItem { key, value: record.data.clone() });
    }
    let mut written = 0;
    for result in kv.put_items(items).await? {
        match result {
            PutItemOutcome::Stored => written += 1,
            PutItemOutcome::Duplicate => duplicates += 1,
        }
    }
    if !new_markers.is_empty() {
        kv.put_items(new_markers).await?;
    }
    Ok((written, duplicates))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::sample_event;
    use crate::event::EventType;
    use crate::memory::MemoryKv;
    use chrono::{Duration, TimeZone, Utc};

    fn record(seq: u64, event: &crate::event::Event) -> StreamRecord {
        StreamRecord { shard_id: "0".into(), sequence_number: seq.to_string(), data: event.to_record_bytes() }
    }

    #[test]
    fn a_retry_with_another_time_is_one_event() {
        futures::executor::block_on(retry_with_another_time());
    }

    async fn retry_with_another_time() {
        let kv = MemoryKv::default();
        let layout = KvLayout::default();
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 13, 5, 0).unwrap();
        let first = sample_event("e1", EventType::Click, at, "EU", None);
        let mut restamped = first.clone();
        restamped.occurred_at = at + Duration::hours(2);
        let mut other_source = first.clone();
        other_source.source = "app".into();

        let out = store_batch(&[record(1, &first), record(2, &first)], &kv, &layout).await;
        assert_eq!((out.written, out.duplicates), (1, 1), "an exact redelivery in the same batch");
        let out = store_batch(&[record(3, &restamped), record(4, &other_source)], &kv, &layout).await;
        assert_eq!((out.written, out.duplicates), (1, 1), "the re-stamped retry is absorbed; app's e1 is its own");
        assert_eq!(kv.items().len(), 2 + 2, "two events, each with its marker");
        let later_bucket = layout.key_for(&restamped).pk;
        assert!(kv.items().iter().all(|item| item.key.pk != later_bucket), "nothing in the retry's hour");
    }

    #[test]
    fn an_item_without_its_marker_is_repaired_by_the_redelivery() {
        futures::executor::block_on(item_without_marker());
    }

    async fn item_without_marker() {
        let kv = MemoryKv::default();
        let layout = KvLayout::default();
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 13, 5, 0).unwrap();
        let event = sample_event("e2", EventType::Click, at, "EU", None);
        // A crash after the item, before the marker.
        kv.put_items(vec![layout.item_for(&event)]).await.unwrap();
        let out = store_batch(&[record(1, &event)], &kv, &layout).await;
        assert_eq!((out.written, out.duplicates), (0, 1));
        let marker = kv.get_items(vec![layout.marker_key(&event)]).await.unwrap();
        assert!(KvLayout::marker_points_at(marker[0].as_deref().unwrap(), &layout.key_for(&event)));
    }
}
