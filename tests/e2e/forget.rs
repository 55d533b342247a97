//! Forgetting a person: their events and rows planted in every local store (log, dead
//! letters, key-value store, index, warehouse tables, raw extract files of a CSV
//! source and of realtime-compact), then `POST /v1/forget`: afterwards no store holds
//! their id, and everyone else's data is unchanged.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use serde_json::{json, Value as Json};
use tidemark::Stack;
use tidemark_core::batch::Value;
use tidemark_core::ports::{KvStore, ObjectStore, Query, SearchIndex, Warehouse};
use tidemark_core::search::SearchRequest;

use crate::support::{self, client, post_batch};

const GONE: &str = "user-to-forget";

const PIPELINE: &str = r#"
[[source]]
name = "visits"
kind = "csv"
path = "visits.csv"
person = { user_id = "customer" }

[[source]]
name   = "site"
kind   = "realtime"
fields = ["user_id"]

[[table]]
name   = "visits"
source = "visits"
key    = ["visit_id"]
person = { user_id = "customer" }
columns = [
  { name = "visit_id", type = "bigint" },
  { name = "customer", type = "varchar" },
  { name = "amount",   type = "decimal(12,2)" },
]

[[table]]
name   = "site_events"
source = "site"
key    = ["source", "event_id"]
columns = [
  { name = "source",   type = "varchar" },
  { name = "event_id", type = "varchar" },
  { name = "user_id",  type = "varchar" },
  { name = "region",   type = "varchar" },
]
"#;

fn user(n: u64) -> String {
    if n.is_multiple_of(5) {
        GONE.to_owned()
    } else {
        format!("user-{}", n % 7)
    }
}

async fn count(warehouse: &dyn Warehouse, sql: &str) -> i64 {
    let result = warehouse.query(&Query::new(sql)).await.unwrap();
    match result.rows[0][0] {
        Value::Int(n) => n,
        ref other => panic!("not a count: {other:?}"),
    }
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        if std::fs::read(&entry).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes())) {
            found.push(entry.display().to_string());
        }
    }
    found
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_person_is_gone_from_every_store_and_no_one_else_is() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tidemark.toml"), PIPELINE).unwrap();
    let mut csv = String::from("visit_id,customer,amount\n");
    for n in 0..40u64 {
        csv.push_str(&format!("{n},{},{}.50\n", user(n), n));
    }
    std::fs::write(dir.path().join("visits.csv"), csv).unwrap();
    let mut config = support::config(&dir.path().join("data"));
    config.pipeline = Some(dir.path().join("tidemark.toml"));
    let stack = Stack::start(config).await.unwrap();
    let http = client();

    // Real time: yesterday's events, a fifth of them the person's.
    let yesterday = Utc::now().date_naive() - Duration::days(1);
    let noon = yesterday.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let events: Vec<Json> = (0..100u64)
        .map(|n| {
            json!({"event_id": format!("e{n}"), "event_type": "page_view", "user_id": user(n),
                   "anonymous_id": format!("anon-{n}"), "region": "EU",
                   "occurred_at": (noon + Duration::minutes(n as i64)).to_rfc3339()})
        })
        .collect();
    assert_eq!(post_batch(&http, stack.http_addr(), &events).await["accepted"], 100);
    stack.wait_until_caught_up(StdDuration::from_secs(30)).await.unwrap();
    // A dead letter that carries one of the person's records.
    let theirs = (0..stack.log().shard_count())
        .flat_map(|shard| stack.log().read(shard, None, 1_000).unwrap())
        .find(|record| String::from_utf8_lossy(&record.data).contains(GONE))
        .unwrap();
    stack.log().park("stream-index", theirs.shard, theirs.seq, &theirs.data, "planted").unwrap();

    // Batch: the CSV extract and load, realtime-compact of yesterday, and its load.
    let env = stack.batch().unwrap();
    env.extract(None).await.unwrap();
    env.compact(stack.kv(), stack.layout(), yesterday).await.unwrap();
    env.load(None).await.unwrap();
    assert_eq!(count(&env.warehouse, "SELECT COUNT(*) FROM visits").await, 40);
    assert_eq!(count(&env.warehouse, "SELECT COUNT(*) FROM site_events").await, 100);
    assert!(!files_containing(&dir.path().join("data").join("interim"), GONE).is_empty(), "planted in raw files");

    let answer: Json = http
        .post(format!("http://{}/v1/forget", stack.admin_addr()))
        .json(&json!({"user_id": GONE}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let removed = |store: &str| {
        answer["stores"].as_array().unwrap().iter().find(|s| s["store"] == store).map(|s| s["removed"].clone())
    };
    assert_eq!(removed("log"), Some(json!(20)), "{answer}");
    assert_eq!(removed("dead_letters"), Some(json!(1)), "{answer}");
    assert_eq!(removed("kv"), Some(json!(20)), "{answer}");
    assert_eq!(removed("index"), Some(json!(20)), "{answer}");
    assert_eq!(removed("warehouse.visits"), Some(json!(8)), "{answer}");
    assert_eq!(removed("warehouse.site_events"), Some(json!(20)), "{answer}");
    assert_eq!(removed("raw.visits"), Some(json!(8)), "{answer}");
    assert_eq!(removed("raw.site"), Some(json!(20)), "{answer}");

    // Nothing of the person anywhere: every store asked through its port ...
    let theirs = |sql: &str| sql.replace("$ID", GONE);
    assert_eq!(count(&env.warehouse, &theirs("SELECT COUNT(*) FROM visits WHERE customer = '$ID'")).await, 0);
    assert_eq!(count(&env.warehouse, &theirs("SELECT COUNT(*) FROM site_events WHERE user_id = '$ID'")).await, 0);
    let request = SearchRequest {
        query: tidemark_core::search::Query::Term { field: "user_id".into(), value: GONE.into() },
        aggs: Default::default(),
    };
    assert_eq!(stack.index().search(&request).await.unwrap().total, 0);
    let kv_items = stack.kv().scan(None, 100_000).await.unwrap();
    assert!(kv_items.iter().all(|item| !String::from_utf8_lossy(&item.value).contains(GONE)));
    for shard in 0..stack.log().shard_count() {
        let records = stack.log().read(shard, None, 100_000).unwrap();
        assert!(records.iter().all(|r| !String::from_utf8_lossy(&r.data).contains(GONE)));
    }
    assert!(stack.log().dead_letters("stream-index").unwrap().is_empty());
    for key in env.store.list("raw/").await.unwrap() {
        let body = env.store.get(&key).await.unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&body).contains(GONE), "{key} still names the person");
    }

    // ... and everyone else as before: 80 events, 32 visits, the other users' totals.
    assert_eq!(count(&env.warehouse, "SELECT COUNT(*) FROM visits").await, 32);
    assert_eq!(count(&env.warehouse, "SELECT COUNT(*) FROM site_events").await, 80);
    assert_eq!(
        stack
            .index()
            .search(&SearchRequest { query: tidemark_core::search::Query::MatchAll, aggs: Default::default() })
            .await
            .unwrap()
            .total,
        80
    );
    assert_eq!(kv_items.len(), 160, "80 events and their markers");
    // A reload of the forgotten raw files loads the same rows again (and no more).
    let reloaded = env.load(None).await.unwrap();
    assert!(reloaded.tables.iter().all(|l| l.rows_loaded == 0), "{reloaded:?}");

    // New events of other people still flow; the emptied records are passed over.
    let later = json!([{"event_id": "after", "event_type": "page_view", "user_id": "user-1", "region": "EU",
                        "occurred_at": Utc::now().to_rfc3339()}]);
    assert_eq!(post_batch(&http, stack.http_addr(), later.as_array().unwrap()).await["accepted"], 1);
    stack.wait_until_caught_up(StdDuration::from_secs(30)).await.unwrap();
    for stats in stack.consumer_stats() {
        assert_eq!(stats.dead_lettered.load(std::sync::atomic::Ordering::Relaxed), 0, "no emptied record is poison");
    }
    stack.shutdown().await.unwrap();

    // A request that names no one, or two, is refused with the rule.
    let stack = support::start(&dir.path().join("data2")).await;
    for body in [json!({}), json!({"user_id": "a", "anonymous_id": "b"}), json!({"user_id": " "})] {
        let response = http.post(format!("http://{}/v1/forget", stack.admin_addr())).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
    }
    stack.shutdown().await.unwrap();
}
