//! The console's routes on `tidemark up`: every job listed with its schedule and
//! next run; Run now starts a run the history shows from start to end; a second run of a
//! job that runs is refused; unknown jobs, misplaced options, readers without the token
//! are refused, naming why; a run a stopped process left is marked interrupted. The
//! quarantined row of a load is read back; a watermark is reset; write keys are made and
//! revoked, taking effect at once and across a restart.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tidemark::Stack;
use tidemark_core::job::{Job, JobOptions, RunStatus, Trigger};

use crate::support;

const TOKEN: &str = "console-token-0123456789";

async fn start(dir: &Path) -> Stack {
    std::fs::write(dir.join("tidemark.toml"), tidemark_e2e::HOSTILE_PIPELINE).unwrap();
    std::fs::write(dir.join("orders.csv"), tidemark_e2e::orders_with_one_bad_row()).unwrap();
    let mut config = support::config(&dir.join("data"));
    config.pipeline = Some(dir.join("tidemark.toml"));
    config.admin_tokens = vec![TOKEN.into()];
    Stack::start(config).await.unwrap()
}

struct Console {
    client: reqwest::Client,
    base: String,
}

impl Console {
    fn of(stack: &Stack) -> Self {
        Self { client: support::client(), base: format!("http://{}", stack.admin_addr()) }
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let answer = self.client.get(format!("{}{path}", self.base)).bearer_auth(TOKEN).send().await.unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let answer =
            self.client.post(format!("{}{path}", self.base)).bearer_auth(TOKEN).json(&body).send().await.unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        let answer = self.client.delete(format!("{}{path}", self.base)).bearer_auth(TOKEN).send().await.unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap_or(Value::Null))
    }

    /// Polls the run until it is no longer running.
    async fn wait_for(&self, job: &str, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, run) = self.get(&format!("/v1/jobs/{job}/runs/{id}")).await;
            assert_eq!(status, 200, "{run}");
            if run["status"] != "running" {
                return run;
            }
            assert!(Instant::now() < deadline, "the run did not end: {run}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_is_recorded_from_start_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start(dir.path()).await;
    let console = Console::of(&stack);

    let (status, listed) = console.get("/v1/jobs").await;
    assert_eq!(status, 200, "{listed}");
    let jobs = listed["jobs"].as_array().unwrap();
    let names: Vec<&str> = jobs.iter().map(|j| j["job"].as_str().unwrap()).collect();
    assert_eq!(names, Job::ALL.map(Job::name));
    let load = &jobs[1];
    assert_eq!((load["schedule"].as_str(), load["options"]["only"].as_str()), (Some("0 15 2 * * *"), Some("table")));
    assert!(load["next_run"].as_str().unwrap().contains("T02:15:00"), "{load}");
    assert_eq!(load["last"], Value::Null, "never run");

    let (status, begun) = console.post("/v1/jobs/batch-extract/runs", json!({})).await;
    assert_eq!(status, 202, "{begun}");
    assert_eq!((begun["status"].as_str(), begun["trigger"].as_str()), (Some("running"), Some("console")));
    let extract = console.wait_for("batch-extract", begun["id"].as_str().unwrap()).await;
    assert_eq!((extract["status"].as_str(), extract["rows"].as_u64()), (Some("succeeded"), Some(31)), "{extract}");
    assert_eq!(extract["summary"][0]["source"], "orders", "the job's summary is kept");

    let (status, begun) = console.post("/v1/jobs/batch-load/runs", json!({"only": "orders"})).await;
    assert_eq!(status, 202, "{begun}");
    let load = console.wait_for("batch-load", begun["id"].as_str().unwrap()).await;
    assert_eq!(load["status"], "succeeded", "{load}");
    assert_eq!((load["options"]["only"].as_str(), load["rows"].as_u64()), (Some("orders"), Some(30)));

    // The bad row is in the quarantine of that load, with where it came from and why.
    let (status, quarantine) = console.get("/v1/quarantine").await;
    assert_eq!(status, 200, "{quarantine}");
    assert_eq!(quarantine["tables"][0]["table"], "orders", "{quarantine}");
    let (status, rows) = console.get("/v1/quarantine/orders").await;
    assert_eq!((status, rows["count"].as_u64()), (200, Some(1)), "{rows}");
    let row = &rows["rows"][0];
    assert_eq!((row["source"].as_str(), row["line"].as_u64()), (Some("orders"), Some(32)), "{row}");
    assert_eq!(row["field"], "amount_eur", "{row}");
    assert_eq!(rows["current"], true, "the table's latest load");
    let (status, refused) = console.get("/v1/quarantine/..%2Fraw").await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("table")), "{refused}");

    // What the pipeline declares; an edit that breaks the file shows with its line.
    let (status, pipeline) = console.get("/v1/pipeline").await;
    assert_eq!((status, pipeline["on_disk"]["ok"].as_bool()), (200, Some(true)), "{pipeline}");
    assert_eq!(pipeline["declared"]["sources"][0], json!({"name": "orders", "kind": "csv"}));
    let file = dir.path().join("tidemark.toml");
    std::fs::write(
        &file,
        format!("{}\n[[table]]\nname = \"broken\"\nsourse = \"orders\"\n", tidemark_e2e::HOSTILE_PIPELINE),
    )
    .unwrap();
    let (_, pipeline) = console.get("/v1/pipeline").await;
    let error = pipeline["on_disk"]["error"].as_str().unwrap();
    assert!(error.contains("tidemark.toml") && error.contains("sourse") && error.contains("line"), "{error}");
    assert_eq!(pipeline["declared"]["tables"].as_array().unwrap().len(), 1, "what runs is the file as it was");
    std::fs::write(&file, tidemark_e2e::HOSTILE_PIPELINE).unwrap();

    // The watermark moved back: the load's hours go back to real time at once.
    let (_, marks) = console.get("/v1/watermarks").await;
    assert_eq!(marks["watermarks"][0]["high_water"], "2026-12-01T10:30:00.000Z", "{marks}");
    assert_eq!(marks["tables"], json!([{"table": "orders", "rows": 30}]), "the rows the table holds");
    let back = json!({"table": "orders", "to": "2026-12-01T00:00:00Z"});
    let (status, moved) = console.post("/v1/watermarks/orders/reset", back.clone()).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["moved"][0]["from"], "2026-12-01T10:30:00.000Z", "{moved}");
    let (_, marks) = console.get("/v1/watermarks").await;
    assert_eq!(marks["watermarks"][0]["high_water"], "2026-12-01T00:00:00.000Z", "{marks}");
    let (status, refused) = console.post("/v1/watermarks/nope/reset", back).await;
    assert_eq!((status, refused["field"].as_str()), (404, Some("source")), "{refused}");
    let (status, _) = console.post("/v1/watermarks/orders/reset", json!({"to": "yesterday"})).await;
    assert_eq!(status, 422, "a time that does not read is refused");

    let (_, listed) = console.get("/v1/jobs").await;
    assert_eq!(listed["jobs"][1]["last"]["id"], load["id"]);
    let (_, runs) = console.get("/v1/jobs/batch-load/runs").await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 1);
    stack.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_cannot_run_is_refused_naming_why() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start(dir.path()).await;
    let console = Console::of(&stack);

    // A run in progress (begun as the scheduler would): Run now is refused with it.
    let history = stack.jobs().unwrap().history();
    let running = history.begin(Job::Reconcile, &JobOptions::default(), Trigger::Schedule).await.unwrap();
    let (status, refused) = console.post("/v1/jobs/reconcile/runs", json!({})).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["running"]["id"].as_str(), Some(running.id.as_str()));
    let (_, listed) = console.get("/v1/jobs").await;
    assert_eq!(listed["jobs"][3]["running"]["id"].as_str(), Some(running.id.as_str()));

    let (status, refused) = console.post("/v1/jobs/compact/runs", json!({})).await;
    assert_eq!((status, refused["field"].as_str()), (404, Some("job")), "{refused}");
    let (status, refused) = console.post("/v1/jobs/report-views/runs", json!({"only": "sales"})).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("only")), "{refused}");
    let (status, refused) = console.post("/v1/jobs/batch-load/runs", json!({"tabel": "orders"})).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("unknown field `tabel`"), "{refused}");
    let (status, refused) = console.get("/v1/jobs/batch-load/runs/nope").await;
    assert_eq!(status, 404, "{refused}");

    // The settings it runs with, no secret among them.
    let (status, settings) = console.get("/v1/settings").await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["write_keys"], json!({"count": 1, "sources": ["web"]}));
    assert_eq!(settings["admin_tokens"], 1);
    assert!(!settings.to_string().contains(TOKEN) && !settings.to_string().contains(support::WRITE_KEY));

    let anonymous = console.client.post(format!("{}/v1/jobs/batch-load/runs", console.base)).json(&json!({}));
    assert_eq!(anonymous.send().await.unwrap().status(), 401);
    let page = console.client.get(format!("{}/console", console.base)).send().await.unwrap();
    assert!(page.url().path().ends_with("/login"), "the console page sends to sign-in: {}", page.url());
    stack.shutdown().await.unwrap();

    // The process stopped with reconcile running: the next one marks it interrupted.
    let stack = start(dir.path()).await;
    let runs = stack.jobs().unwrap().history().runs(Job::Reconcile, 10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| (r.id.as_str(), r.status)).collect::<Vec<_>>(),
        vec![(running.id.as_str(), RunStatus::Interrupted)]
    );
    let (status, _) = Console::of(&stack).post("/v1/jobs/reconcile/runs", json!({})).await;
    assert_eq!(status, 202);
    stack.shutdown().await.unwrap();
}

/// Sends one event with `key`; the status ingest answers.
async fn send_with(stack: &Stack, key: &str, n: u64) -> u16 {
    let event = support::good_event("keys", n, chrono::Utc::now() - chrono::Duration::hours(4));
    let answer = support::client()
        .post(format!("http://{}/v1/events", stack.http_addr()))
        .header("x-tidemark-write-key", key)
        .json(&[event])
        .send()
        .await
        .unwrap();
    answer.status().as_u16()
}

#[tokio::test]
async fn write_keys_are_made_and_revoked_in_the_console_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start(dir.path()).await;
    let console = Console::of(&stack);
    let (status, made) = console.post("/v1/write-keys", json!({"source": "app", "label": "ios app"})).await;
    assert_eq!(status, 201, "{made}");
    let (key, id) = (made["key"].as_str().unwrap().to_owned(), made["id"].as_str().unwrap().to_owned());
    let (_, other) = console.post("/v1/write-keys", json!({"source": "web"})).await;
    assert_eq!(send_with(&stack, &key, 1).await, 200, "a new key is accepted at once");
    let (status, listed) = console.get("/v1/write-keys").await;
    assert_eq!(status, 200);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);
    assert_eq!(listed["configured"], json!([{"source": "web", "keys": 1}]));
    assert!(!listed.to_string().contains(&key), "a key is shown once, when it is made: {listed}");

    // Refusals name the field; nothing is made.
    let (status, refused) = console.post("/v1/write-keys", json!({"source": "Web Site"})).await;
    assert_eq!((status, refused["field"].as_str()), (400, Some("source")), "{refused}");
    let (status, refused) = console.post("/v1/write-keys", json!({"source": "web", "lable": "x"})).await;
    assert_eq!(status, 400, "{refused}");
    let (status, _) = console.delete("/v1/write-keys/0123456789ab").await;
    assert_eq!(status, 404);
    let cross_site = console
        .client
        .delete(format!("{}/v1/write-keys/{id}", console.base))
        .bearer_auth(TOKEN)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403, "another site's page cannot revoke");
    let anonymous = console.client.post(format!("{}/v1/write-keys", console.base)).json(&json!({"source": "web"}));
    assert_eq!(anonymous.send().await.unwrap().status(), 401);

    let (status, revoked) = console.delete(&format!("/v1/write-keys/{id}")).await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["revoked_at"].is_string());
    assert_eq!(send_with(&stack, &key, 2).await, 401, "a revoked key is refused at once");
    assert_eq!(send_with(&stack, support::WRITE_KEY, 3).await, 200, "the configured key is untouched");
    stack.shutdown().await.unwrap();

    // After a restart: the other key still works, the revoked one is still refused.
    let stack = start(dir.path()).await;
    assert_eq!(send_with(&stack, other["key"].as_str().unwrap(), 4).await, 200);
    assert_eq!(send_with(&stack, &key, 5).await, 401);
    let (_, listed) = Console::of(&stack).get("/v1/write-keys").await;
    let states: Vec<(&str, bool)> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["source"].as_str().unwrap(), k["revoked_at"].is_string()))
        .collect();
    assert_eq!(states, vec![("web", false), ("app", true)]);
    stack.shutdown().await.unwrap();
}
