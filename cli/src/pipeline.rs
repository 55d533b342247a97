//! `tidemark pipeline check FILE`: the pipeline file read and checked exactly as `tidemark
//! up`, `tidemark job run` and the AWS functions read it, without running anything, so
//! a file can be checked before it is deployed or uploaded.

use std::path::PathBuf;

use anyhow::Context;
use tidemark_core::batch::Pipeline;

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
    crate::schedule::validate(&pipeline.schedule).map_err(anyhow::Error::msg).with_context(|| format!("in {path}"))?;
    println!("{}", summary(&pipeline));
    Ok(())
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
    fn a_broken_file_fails_naming_the_file_and_the_problem() {
        let error = check_text("[[table]]\nname = \"t\"\nsource = \"nowhere\"\ncolumns = []\n").unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("tidemark.toml") && text.contains("nowhere"), "{text}");
        let error = check_text("[schedule]\nbatch_load = \"every day\"\n").unwrap_err();
        assert!(format!("{error:#}").contains("schedule.batch_load"), "{error:#}");
    }
}
