//! Merging the write shards of one bucket back into time order.

use crate::bucket::HourBucket;
use crate::kv_key::{KvItem, KvLayout};
use crate::ports::kv::{KvError, KvStore};
use itertools::Itertools;

/// Reads one hour: queries its write-shard partitions concurrently and merges them
/// into time order.
pub async fn read_bucket(kv: &dyn KvStore, layout: &KvLayout, bucket: HourBucket) -> Result<Vec<KvItem>, KvError> {
    let partitions = layout.partitions(bucket);
    let queries = partitions.iter().map(|pk| kv.query_partition(pk));
    let shards = futures::future::try_join_all(queries).await?;
    Ok(merge_partitions(shards))
}

/// Merges per-partition item lists, each sorted by sort key (as every store returns
/// them), into one list in sort-key order: time order, ties broken by event_id.
fn merge_partitions(partitions: Vec<Vec<KvItem>>) -> Vec<KvItem> {
    debug_assert!(partitions.iter().all(|items| items.windows(2).all(|pair| pair[0].key.sk <= pair[1].key.sk)));
    partitions.into_iter().kmerge_by(|left, right| left.key.sk < right.key.sk).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv_key::KvKey;
    use proptest::prelude::*;

    fn item(pk: u16, sk: String) -> KvItem {
        KvItem { key: KvKey { pk: format!("events#2026-11-25T13#{pk}"), sk }, value: Vec::new() }
    }

    proptest! {
        /// The merge of sorted shards is the sorted union: nothing lost, nothing added,
        /// and in time order.
        #[test]
        fn merge_is_sorted_union(shards in proptest::collection::vec(
            proptest::collection::vec((0u32..3_600_000, 0u32..1000), 0..50), 1..8)) {
            let mut expected = Vec::new();
            let partitions: Vec<Vec<KvItem>> = shards.iter().enumerate().map(|(shard, rows)| {
                let mut items: Vec<KvItem> = rows.iter()
                    .map(|(millis, id)| item(shard as u16, format!("2026-11-25T13:{:02}:{:02}.{:03}Z#{shard}-{id}",
                        millis / 60_000, (millis / 1000) % 60, millis % 1000)))
                    .collect();
                items.sort_by(|a, b| a.key.sk.cmp(&b.key.sk));
                expected.extend(items.iter().map(|i| i.key.clone()));
                items
            }).collect();
            let merged = merge_partitions(partitions);
            prop_assert!(merged.windows(2).all(|pair| pair[0].key.sk <= pair[1].key.sk));
            let mut got: Vec<KvKey> = merged.into_iter().map(|i| i.key).collect();
            got.sort();
            expected.sort();
            prop_assert_eq!(got, expected);
        }
    }
}
