//! A DynamoDB source on one machine: `tidemark job run batch-extract` and `batch-load`
//! as a user runs them, against a DynamoDB table on moto, into the local warehouse.
//! Without AWS credentials the extract fails naming what to set.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use tidemark_aws::emulator::Emulator;
use tidemark_core::batch::Value as Cell;
use tidemark_core::ports::{Query, Warehouse};
use tidemark_local::DuckWarehouse;

const PIPELINE: &str = r#"
[[source]]
name   = "sessions"
kind   = "dynamodb"
table  = "Sessions"
mode   = "snapshot"
key    = ["session_id"]
fields = ["session_id", "visitor.country", "pages"]

[[table]]
name = "sessions"
source = "sessions"
key = ["session_id"]
columns = [
  { name = "session_id", type = "varchar" },
  { name = "country",    type = "varchar" },
  { name = "pages",      type = "bigint" },
]
[[table.rule]]
rename = { "visitor.country" = "country" }
"#;

fn job(name: &str, dir: &Path, endpoint: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tidemark-job"));
    command
        .args([name, "--pipeline"])
        .arg(dir.join("tidemark.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN");
    if let Some(endpoint) = endpoint {
        command
            .env("TIDEMARK_AWS_ENDPOINT", endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
    }
    command.output().unwrap()
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn tidemark_job_run_extracts_and_loads_a_dynamodb_table() {
    let moto = Emulator::moto();
    let api = moto.aws_api();
    tidemark_aws::provision::source_table(&moto.clients().await, "Sessions", "session_id").await.unwrap();
    for n in 0..40u32 {
        let item = json!({
            "session_id": {"S": format!("s{n:02}")},
            "visitor": {"M": {"country": {"S": if n < 10 { "NO" } else { "DE" }}}},
            "pages": {"N": (n % 5 + 1).to_string()},
        });
        api.dynamodb("PutItem", &json!({"TableName": "Sessions", "Item": item})).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tidemark.toml"), PIPELINE).unwrap();

    let refused = job("batch-extract", dir.path(), None);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");

    for name in ["batch-extract", "batch-load"] {
        let out = job(name, dir.path(), Some(&moto.url()));
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let warehouse = DuckWarehouse::open(&dir.path().join("data/warehouse.duckdb")).unwrap();
    let by_country = warehouse
        .query(&Query::new(
            "SELECT country, COUNT(*), CAST(SUM(pages) AS BIGINT) FROM sessions GROUP BY country ORDER BY country",
        ))
        .await
        .unwrap()
        .rows;
    let pages = |range: std::ops::Range<u32>| Cell::Int(range.map(|n| i64::from(n % 5 + 1)).sum());
    assert_eq!(
        by_country,
        vec![vec![Cell::str("DE"), Cell::Int(30), pages(10..40)], vec![Cell::str("NO"), Cell::Int(10), pages(0..10)]]
    );
    let raw: Value = {
        let runs = std::fs::read_dir(dir.path().join("data/interim/raw/sessions")).unwrap();
        let run = runs.map(|r| r.unwrap().path()).find(|p| p.is_dir()).unwrap();
        let part = std::fs::read_to_string(run.join("part-00000.jsonl")).unwrap();
        serde_json::from_str(part.lines().next().unwrap()).unwrap()
    };
    assert!(raw["visitor"]["M"]["country"]["S"].is_string(), "kept as DynamoDB JSON: {raw}");
}
