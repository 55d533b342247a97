//! `tidemark pipeline check FILE`: the pipeline file read and checked exactly as `tidemark
//! up`, `tidemark job run` and the AWS functions read it, without running anything, so
//! a file can be checked before it is deployed or uploaded. `tidemark pipeline push FILE
//! --bucket B` checks it the same way and, only if it passes, puts it where the deployed
//! functions read it.

use std::path::PathBuf;

use anyhow::Context;
use tidemark_core::batch::Pipeline;
use tidemark_core::job::{eventbridge_expression, Job};
use tidemark_sources::aws_api::AwsApi;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The pipeline file.
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// The stack's interim bucket (the `InterimBucketName` output of `sam deploy`).
    #[arg(long)]
    pub bucket: String,
    /// Where in the bucket; the template's `PipelineFile` parameter.
    #[arg(long, default_value = "pipeline/tidemark.toml")]
    pub key: String,
}

/// Parses and validates `file`; prints what it declares, or fails naming the problem.
pub fn check(args: &CheckArgs) -> anyhow::Result<()> {
    checked(&args.file).map(drop)
}

/// Checks `file` as [`check`] does, then uploads it unchanged; a file that does not
/// check is not uploaded. New instances of the functions read it (jobs at their next
/// run, the report function at its next cold start).
pub async fn push(args: &PushArgs) -> anyhow::Result<()> {
    let text = checked(&args.file)?;
    upload(args, &AwsApi::from_env()?, text).await
}

/// Puts the checked `text` where `args` says, through `api`.
pub async fn push_with(args: &PushArgs, api: &AwsApi) -> anyhow::Result<()> {
    let text = checked(&args.file)?;
    upload(args, api, text).await
}

async fn upload(args: &PushArgs, api: &AwsApi, text: String) -> anyhow::Result<()> {
    api.s3_put(&args.bucket, &args.key, text.into_bytes())
        .await
        .with_context(|| format!("uploading to s3://{}/{}", args.bucket, args.key))?;
    println!("pushed {} to s3://{}/{} ({})", args.file.display(), args.bucket, args.key, api.region());
    Ok(())
}

/// The text of `file` once it parsed and validated, its summary printed.
fn checked(file: &std::path::Path) -> anyhow::Result<String> {
    let (text, pipeline) = read_checked(file)?;
    println!("{}", summary(&pipeline));
    print!("{}", schedules(&pipeline));
    Ok(text)
}

/// `file` read, parsed and validated as every deployment reads it; the error names the
/// file, and the line or key.
fn read_checked(file: &std::path::Path) -> anyhow::Result<(String, Pipeline)> {
    let path = file.display();
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {path}"))?;
    let pipeline = Pipeline::parse(&text).with_context(|| format!("in {path}"))?;
    crate::schedule::validate(&pipeline.schedule).with_context(|| format!("in {path}"))?;
    Ok((text, pipeline))
}

/// `GET /v1/pipeline` on a running `tidemark up`: what the pipeline file it started with
/// declares, and whether the file as it is on disk now still checks (`up` reads it at
/// start; an edit that broke it shows here, with the file and the line or key, before
/// a restart would fail on it).
pub fn router<S>(env: crate::batch::BatchEnv) -> axum::Router<S> {
    axum::Router::new().route("/v1/pipeline", axum::routing::get(pipeline_route)).with_state(env)
}

async fn pipeline_route(
    axum::extract::State(env): axum::extract::State<crate::batch::BatchEnv>,
) -> axum::Json<serde_json::Value> {
    let on_disk = match read_checked(&env.pipeline_path) {
        Ok((_, now)) => serde_json::json!({"ok": true, "summary": summary(&now)}),
        Err(error) => serde_json::json!({"ok": false, "error": format!("{error:#}")}),
    };
    axum::Json(serde_json::json!({
        "file": env.pipeline_path.display().to_string(),
        "declared": declared(&env.pipeline),
        "on_disk": on_disk,
    }))
}

/// Every source, table, report and analysis by name, with what each is.
fn declared(pipeline: &Pipeline) -> serde_json::Value {
    serde_json::json!({
        "sources": pipeline.sources.iter().map(|s| serde_json::json!({"name": s.name, "kind": s.kind})).collect::<Vec<_>>(),
        "tables": pipeline.tables.iter().map(|t| serde_json::json!({"name": t.name, "source": t.source})).collect::<Vec<_>>(),
        "reports": pipeline.reports.iter().map(|r| serde_json::json!({"name": r.name, "title": r.title()})).collect::<Vec<_>>(),
        "analyses": pipeline.analyses.iter().map(|a| serde_json::json!({"name": a.name(), "kind": a.kind()})).collect::<Vec<_>>(),
    })
}

/// Each job's schedule, as cron and as the EventBridge expression the template's
/// schedule parameter must hold (the jobs on AWS refuse to run when they differ), and
/// the `sam deploy` overrides for the ones that are not the template's defaults.
fn schedules(pipeline: &Pipeline) -> String {
    let mut out = format!("{:<18} {:<18} {}\n", "job", "cron (UTC)", "on AWS");
    let mut overrides = Vec::new();
    for job in Job::ALL {
        let cron = pipeline.schedule.cron(job);
        let aws = match eventbridge_expression(cron) {
            Ok(expression) => {
                if cron != job.default_cron() {
                    overrides.push(format!("{}=\"{expression}\"", job.schedule_parameter()));
                }
                expression
            }
            Err(e) => format!("cannot be deployed: {}", e.rule),
        };
        out += &format!("{:<18} {:<18} {aws}\n", job.name(), cron);
    }
    if !overrides.is_empty() {
        out += &format!("on AWS, deploy with: --parameter-overrides {}\n", overrides.join(" "));
    }
    out
}

fn summary(pipeline: &Pipeline) -> String {
    let names = |items: Vec<&str>| if items.is_empty() { "none".to_owned() } else { items.join(", ") };
    format!(
        "ok: {} sources ({}), {} tables ({}), {} reports ({})",
        pipeline.sources.len(),
        names(pipeline.sources.iter().map(|s| s.name.as_str()).collect()),
        pipeline.tables.len(),
        names(pipeline.tables.iter().map(|t| t.name.as_str()).collect()),
        pipeline.reports.len(),
        names(pipeline.reports.iter().map(|r| r.name.as_str()).collect()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(text: &str) -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("tidemark.toml");
        std::fs::write(&file, text)?;
        check(&CheckArgs { file })
    }

    #[test]
    fn the_example_shop_checks_and_is_summarised_by_name() {
        let text = include_str!("../../examples/shop/tidemark.toml");
        let pipeline = Pipeline::parse(text).expect("the example parses");
        let line = summary(&pipeline);
        assert!(line.starts_with("ok: 5 sources (orders, customers, products, carts, access), 6 tables"), "{line}");
        check_text(text).expect("the example checks");
    }

    #[test]
    fn schedules_are_shown_as_the_template_takes_them() {
        let pipeline =
            Pipeline::parse("[schedule]\nbatch_load = \"0 0 5 * * MON-FRI\"\nreconcile = \"30 0 6 * * *\"\n")
                .expect("parses");
        let text = schedules(&pipeline);
        assert!(text.contains("batch-extract      0 0 2 * * *        cron(0 2 * * ? *)"), "{text}");
        assert!(text.contains("cron(0 5 ? * MON-FRI *)"), "{text}");
        assert!(text
            .contains("reconcile          30 0 6 * * *       cannot be deployed: EventBridge schedules whole minutes"));
        assert!(text.ends_with("--parameter-overrides BatchLoadSchedule=\"cron(0 5 ? * MON-FRI *)\"\n"), "{text}");
        assert!(!schedules(&Pipeline::parse("").expect("parses")).contains("overrides"));
    }

    #[test]
    fn a_broken_file_fails_naming_the_file_and_the_problem() {
        let error = check_text("[[table]]\nname = \"t\"\nsource = \"nowhere\"\ncolumns = []\n").unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("tidemark.toml") && text.contains("nowhere"), "{text}");
        let error = check_text("[schedule]\nbatch_load = \"every day\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("schedule.batch_load"), "{error:#}");
    }
}
