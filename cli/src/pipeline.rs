//! `tidemark pipeline check FILE`: the pipeline file read and checked exactly as `tidemark
//! up`, `tidemark job run` and the AWS functions read it, without running anything, so
//! a file can be checked before it is deployed or uploaded.

use std::path::PathBuf;

use anyhow::Context;
use tidemark_core::batch::Pipeline;
use tidemark_core::job::{eventbridge_expression, Job};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The pipeline file.
    pub file: PathBuf,
}

/// Parses and validates `file`; prints what it declares, or fails naming the problem.
pub fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let path = args.file.display();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {path}"))?;
    let pipeline = Pipeline::parse(&text).with_context(|| format!("in {path}"))?;
    crate::schedule::validate(&pipeline.schedule).with_context(|| format!("in {path}"))?;
    println!("{}", summary(&pipeline));
    print!("{}", schedules(&pipeline));
    Ok(())
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
