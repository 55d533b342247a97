//! The `tidemark` binary: `tidemark up` runs every function in one process; `tidemark
//! job run` runs one batch job now.

use clap::{Parser, Subcommand};
use tidemark::config::{JobArgs, UpArgs};
use tidemark_core::job::Job;
use tracing_subscriber::EnvFilter;

/// mimalloc: the request path allocates many small strings and maps; glibc malloc
/// showed up as the largest single cost in the ingest profile (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "tidemark", version, about = "Real-time and batch analytics, merged at the tidemark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole real-time side on embedded stores until Ctrl-C.
    Up(UpArgs),
    /// A generated e-commerce day through both sides, with the dashboard: the main job, locally.
    Demo(tidemark::demo::DemoArgs),
    /// A report merged at the tidemark: batch before it, real time after it.
    Report(tidemark::report::ReportArgs),
    /// Run a scheduled job now.
    Job {
        #[command(subcommand)]
        action: JobAction,
    },
    /// Dead letters of a running `tidemark up`: list, show, redrive.
    Dlq {
        #[command(flatten)]
        args: tidemark::dlq::DlqArgs,
        #[command(subcommand)]
        action: tidemark::dlq::DlqAction,
    },
    /// Remove a person's events and rows from every store of a running `tidemark up`.
    Forget(tidemark::forget::ForgetArgs),
    /// Check a pipeline file as every deployment reads it, or upload it to a stack.
    Pipeline {
        #[command(subcommand)]
        action: PipelineAction,
    },
    /// Inspect or move batch watermarks.
    Watermark {
        #[command(subcommand)]
        action: WatermarkAction,
    },
}

#[derive(Subcommand)]
enum PipelineAction {
    /// Parse and validate FILE; print what it declares, or the problem and where.
    Check(tidemark::pipeline::CheckArgs),
    /// Check FILE, then upload it to the stack's interim bucket, where the functions read
    /// it. AWS credentials and region from AWS_* variables.
    Push(tidemark::pipeline::PushArgs),
}

#[derive(Subcommand)]
enum WatermarkAction {
    /// Move a source's watermarks to `--to`, backwards too, and print each change.
    Reset(tidemark::watermark::ResetArgs),
}

#[derive(Subcommand)]
enum JobAction {
    /// Run one job now (`report-views`, `reconcile --report R --days 30`, ...): a flag
    /// the job does not take is refused.
    Run {
        #[arg(value_parser = tidemark::config::job_parser())]
        name: Job,
        #[command(flatten)]
        args: JobArgs,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    tidemark_sources::tls::install_default_provider();
    match Cli::parse().command {
        Command::Up(args) => tidemark::run_up(&args).await,
        Command::Demo(args) => tidemark::demo::run(&args).await,
        Command::Report(args) => tidemark::report::run(&args).await,
        Command::Job { action: JobAction::Run { name, args } } => tidemark::run_job(name, &args).await,
        Command::Pipeline { action: PipelineAction::Check(args) } => tidemark::pipeline::check(&args),
        Command::Pipeline { action: PipelineAction::Push(args) } => tidemark::pipeline::push(&args).await,
        Command::Watermark { action: WatermarkAction::Reset(args) } => tidemark::watermark::reset(&args).await,
        Command::Dlq { args, action } => tidemark::dlq::run(&args, &action).await,
        Command::Forget(args) => tidemark::forget::run(&args).await,
    }
}
