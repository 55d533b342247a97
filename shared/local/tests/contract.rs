//! The port contract suites, run against the embedded adapters.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use tidemark_core::contract;
use tidemark_local::{DirObjectStore, DuckWarehouse, EventLog, FjallKvStore, TantivyIndex};

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
async fn kv_items_are_read_by_key() {
    let (_dir, store) = kv();
    contract::kv::items_are_read_by_key(&store).await;
}

#[tokio::test]
async fn kv_scans_see_everything_once_and_deletes_remove() {
    let (_dir, store) = kv();
    contract::kv::scans_see_everything_once_and_deletes_remove(&store).await;
}

#[tokio::test]
async fn search_deletes_remove_exactly_what_matches() {
    let (_dir, index) = index();
    contract::search::deletes_remove_exactly_what_matches(&index).await;
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
async fn search_keeps_one_document_per_source_and_id() {
    let (_dir, index) = index();
    contract::search::one_document_per_source_and_id(&index).await;
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

#[tokio::test]
async fn object_store_on_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirObjectStore::new(dir.path());
    contract::object_store::put_get_list_delete(&store).await;
    contract::object_store::rejects_keys_that_escape(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_staged_loads_are_atomic_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let wh = DuckWarehouse::open(&dir.path().join("w.duckdb")).unwrap();
    contract::warehouse::staged_loads_are_atomic_and_idempotent(&wh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_overwrite_replaces_only_staged_periods() {
    let wh = DuckWarehouse::in_memory().unwrap();
    contract::warehouse::overwrite_replaces_only_staged_periods(&wh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_fresh_has_no_watermarks() {
    let dir = tempfile::tempdir().unwrap();
    let wh = DuckWarehouse::open(&dir.path().join("w.duckdb")).unwrap();
    contract::warehouse::fresh_warehouse_has_no_watermarks(&wh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_execute_is_all_or_nothing() {
    let wh = DuckWarehouse::in_memory().unwrap();
    contract::warehouse::execute_is_all_or_nothing(&wh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_a_load_committed_meanwhile_changes_nothing() {
    let wh = DuckWarehouse::in_memory().unwrap();
    contract::warehouse::a_load_committed_meanwhile_changes_nothing(&wh).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_hostile_text_is_staged_and_bound_byte_for_byte() {
    let wh = DuckWarehouse::in_memory().unwrap();
    contract::warehouse::hostile_text_is_staged_and_bound_byte_for_byte(&wh).await;
}

/// A process that dies with rows staged leaves the table as it was: reopen the file,
/// the next load starts a fresh stage and commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_crash_mid_stage_leaves_no_partial_rows() {
    use tidemark_core::batch::{Pipeline, Value};
    use tidemark_core::ports::Warehouse;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.duckdb");
    let p = Pipeline::parse(
        "[[source]]\nname = \"s\"\nkind = \"csv\"\npath = \"x\"\n[[table]]\nname = \"t\"\nsource = \"s\"\nload = \"append\"\ncolumns = [{ name = \"id\", type = \"bigint\" }]",
    )
    .unwrap();
    let t = &p.tables[0];
    {
        let wh = DuckWarehouse::open(&path).unwrap();
        wh.ensure_tables(&p.tables).await.unwrap();
        wh.begin_stage(t).await.unwrap();
        wh.stage(t, vec![vec![Value::Int(1)], vec![Value::Int(2)]]).await.unwrap();
        // Dropped here without commit or abort, as in a crash.
    }
    let wh = DuckWarehouse::open(&path).unwrap();
    assert!(wh.query(&tidemark_core::ports::Query::new("SELECT * FROM t")).await.unwrap().rows.is_empty());
    assert!(wh.watermarks().await.unwrap().is_empty());
    wh.begin_stage(t).await.unwrap();
    wh.stage(t, vec![vec![Value::Int(3)]]).await.unwrap();
    let commit = tidemark_core::ports::LoadCommit {
        load_id: "t:1".into(),
        extract_runs: vec![("s".into(), "1".into())],
        rows_loaded: 1,
        rows_quarantined: 0,
        high_water: None,
        loaded_at: chrono::Utc::now(),
    };
    wh.commit(t, &commit).await.unwrap();
    assert_eq!(
        wh.query(&tidemark_core::ports::Query::new("SELECT id FROM t")).await.unwrap().rows,
        vec![vec![Value::Int(3)]]
    );
}
