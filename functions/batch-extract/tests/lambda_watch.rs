//! Run now on AWS, end to end: the report function's launcher begins a run in the job
//! history (DynamoDB on moto) and invokes the real batch-extract binary, started as Lambda
//! starts `bootstrap` on the runtime API of `cargo lambda watch`; the function carries out
//! that run (one CSV source in S3) and records its end, which the history then shows. A
//! second Run now while the first holds the lock is refused.
//! With `TIDEMARK_SAM_BUILD_DIR` set to a `sam build` output, the `bootstrap` SAM built
//! is started instead of the test build's binary (CI does both).
//! Ignored unless run with `--include-ignored`: it needs cargo-lambda and moto.
// Test code: a failed unwrap is a failed test, which is the point.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tidemark_aws::emulator::Emulator;
use tidemark_aws::launcher::LambdaLauncher;
use tidemark_aws::provision;
use tidemark_aws::settings::STALE_AFTER;
use tidemark_core::clock::SystemClock;
use tidemark_core::job::{BeginError, Job, JobLauncher, JobOptions, LaunchError, RunHistory, RunStatus, Trigger};
use tidemark_core::ports::KvStore;

const PIPELINE: &str = r#"
[[source]]
name = "orders"
kind = "csv"
path = "s3://lw-interim/exports/orders.csv"

[schedule]
batch_extract = "0 0 2 * * *"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn run_now_invokes_the_job_function_which_records_the_run() {
    let (moto, api) = (Emulator::moto(), Emulator::lambda_api());
    let clients = moto.clients().await;
    provision::bucket(&clients, "lw-interim").await.unwrap();
    provision::kv_table(&clients, "lw-events").await.unwrap();
    let put = |key: &'static str, body: &'static str| {
        clients.s3.put_object().bucket("lw-interim").key(key).body(body.as_bytes().to_vec().into()).send()
    };
    put("tidemark.toml", PIPELINE).await.unwrap();
    put("exports/orders.csv", "order_id,amount\no1,10\no2,12\no3,7\n").await.unwrap();
    let mut function = api.function(
        &Emulator::function_binary("BatchExtractFunction", Path::new(env!("CARGO_BIN_EXE_batch-extract"))),
        &[
            ("TIDEMARK_AWS_ENDPOINT", moto.url()),
            ("TIDEMARK_BUCKET", "lw-interim".into()),
            ("TIDEMARK_PIPELINE_KEY", "tidemark.toml".into()),
            ("TIDEMARK_KV_TABLE", "lw-events".into()),
        ],
    );
    let kv: Arc<dyn KvStore> = Arc::new(tidemark_aws::dynamodb::DynamoKv::new(clients.dynamodb.clone(), "lw-events"));
    let history = RunHistory::new(kv, Arc::new(SystemClock), Some(STALE_AFTER));
    // The function's name on `cargo lambda watch` is `_`.
    let launcher = LambdaLauncher::new(api.clients().await.lambda, "_".into(), history.clone());

    let started = Instant::now();
    let run = loop {
        assert!(function.running(), "batch-extract exited at cold start");
        match launcher.launch(Job::BatchExtract, JobOptions::default()).await {
            Ok(run) => break run,
            // The cold start: the invocation failed and the run was ended; try again.
            Err(LaunchError::Start(_)) if started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            Err(other) => panic!("Run now failed: {other}"),
        }
    };
    assert_eq!((run.trigger, run.status), (Trigger::Console, RunStatus::Running));
    let ended = loop {
        let now = history.run(Job::BatchExtract, &run.id).await.unwrap().unwrap();
        if now.status != RunStatus::Running {
            break now;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "the run did not end: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!((ended.status, ended.rows), (RunStatus::Succeeded, Some(3)), "{ended:?}");
    assert_eq!(ended.summary.unwrap()[0]["source"], "orders");

    // While a run holds the lock, Run now is refused before anything is invoked.
    let holder = history.begin(Job::BatchExtract, &JobOptions::default(), Trigger::Schedule).await.unwrap();
    match launcher.launch(Job::BatchExtract, JobOptions::default()).await {
        Err(LaunchError::Begin(BeginError::Running(running))) => assert_eq!(running.id, holder.id),
        other => panic!("expected a refusal: {other:?}"),
    }
}
