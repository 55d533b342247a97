//! `tidemark watermark reset --source S --to T [--table X]`: moves a source's watermarks
//! to a chosen time, backwards too (after a source's clock ran ahead, or to have real
//! time answer a period again), and prints each change.

use anyhow::Context;
use chrono::{DateTime, Utc};
use tidemark_core::batch::sql;
use tidemark_core::ports::{Step, Warehouse, Watermark};

use crate::batch::BatchEnv;

#[derive(Debug, Clone, clap::Args)]
pub struct ResetArgs {
    /// The pipeline file.
    #[arg(long, env = "TIDEMARK_PIPELINE", default_value = "./tidemark.toml")]
    pub pipeline: std::path::PathBuf,
    /// Where the warehouse lives.
    #[arg(long, env = "TIDEMARK_DATA_DIR", default_value = "./tidemark-data")]
    pub data_dir: std::path::PathBuf,
    /// The source whose watermarks move.
    #[arg(long)]
    pub source: String,
    /// Only the watermark of this table (default: every table the source feeds).
    #[arg(long)]
    pub table: Option<String>,
    /// The new high-water mark, RFC 3339 (`2026-11-30T00:00:00Z`).
    #[arg(long)]
    pub to: DateTime<Utc>,
}

/// The watermark rows a reset changes: `(table, old high-water)`.
fn affected<'a>(marks: &'a [Watermark], args: &ResetArgs) -> Vec<&'a Watermark> {
    marks.iter().filter(|m| m.source == args.source && args.table.as_ref().is_none_or(|t| &m.table == t)).collect()
}

pub async fn reset(args: &ResetArgs) -> anyhow::Result<()> {
    let env = BatchEnv::open(&args.pipeline, &args.data_dir)?;
    if env.pipeline.source(&args.source).is_none() {
        anyhow::bail!("--source {:?} is not a source of {}", args.source, args.pipeline.display());
    }
    if let Some(table) = &args.table {
        if env.pipeline.table(table).is_none() {
            anyhow::bail!("--table {table:?} is not a table of {}", args.pipeline.display());
        }
    }
    let before = env.warehouse.watermarks().await.context("reading the watermarks")?;
    let changes = affected(&before, args);
    if changes.is_empty() {
        println!("no watermark of source {} to reset: nothing was loaded from it yet", args.source);
        return Ok(());
    }
    let statement = sql::reset_watermark(&args.source, args.table.as_deref(), args.to);
    env.warehouse.execute(vec![Step::Sql(statement)]).await.context("resetting the watermark")?;
    let format = |t: Option<DateTime<Utc>>| t.map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    for mark in changes {
        println!(
            "watermark {}/{}: {} -> {} (nothing reloaded; reports follow the new tidemark at once)",
            mark.source,
            mark.table,
            format(mark.high_water),
            format(Some(args.to))
        );
    }
    Ok(())
}
