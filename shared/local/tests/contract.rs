//! The port contract suites, run against the embedded adapters.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use tidemark_core::contract;
use tidemark_local::{EventLog, FjallKvStore, TantivyIndex};

fn kv() -> (tempfile::TempDir, FjallKvStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallKvStore::open(dir.path()).unwrap();
    (dir, store)
}

fn index() -> (tempfile::TempDir, TantivyIndex) {
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyIndex::open(dir.path()).unwrap();
    (dir, index)
}

#[tokio::test]
async fn stream_put_answers_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = EventLog::open(dir.path(), 4).unwrap();
    contract::stream::put_answers_every_record(&log).await;
    contract::stream::empty_put_is_a_no_op(&log).await;
}

#[tokio::test]
async fn kv_duplicates_are_absorbed() {
    let (_dir, store) = kv();
    contract::kv::duplicates_are_absorbed(&store).await;
}

#[tokio::test]
async fn kv_partitions_are_exact_and_sorted() {
    let (_dir, store) = kv();
    contract::kv::partitions_are_exact_and_sorted(&store).await;
}

#[tokio::test]
async fn kv_bucket_reads_merge_write_shards() {
    let (_dir, store) = kv();
    contract::kv::bucket_reads_merge_write_shards(&store).await;
}

#[tokio::test]
async fn search_replays_do_not_double_count() {
    let (_dir, index) = index();
    contract::search::replays_do_not_double_count(&index).await;
}

#[tokio::test]
async fn search_aggregations_match_the_events() {
    let (_dir, index) = index();
    contract::search::aggregations_match_the_events(&index).await;
}

#[tokio::test]
async fn search_filters_and_metrics() {
    let (_dir, index) = index();
    contract::search::filters_and_metrics(&index).await;
}

#[tokio::test]
async fn kv_and_index_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = FjallKvStore::open(&dir.path().join("kv")).unwrap();
        contract::kv::duplicates_are_absorbed(&store).await;
        let index = TantivyIndex::open(&dir.path().join("index")).unwrap();
        contract::search::replays_do_not_double_count(&index).await;
    }
    let store = FjallKvStore::open(&dir.path().join("kv")).unwrap();
    assert_eq!(tidemark_core::ports::KvStore::query_partition(&store, "s#h#0").await.unwrap().len(), 3);
    let index = TantivyIndex::open(&dir.path().join("index")).unwrap();
    assert_eq!(index.num_docs(), 300);
}
