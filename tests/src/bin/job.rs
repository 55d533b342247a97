//! `tidemark job run` built inside the test package, so the crash test can SIGKILL a
//! real load (`CARGO_BIN_EXE_tidemark-job`).

use clap::Parser;
use tidemark::config::{JobArgs, JobName};

#[derive(Parser)]
struct Job {
    #[arg(value_enum)]
    name: JobName,
    #[command(flatten)]
    args: JobArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let job = Job::parse();
    tidemark::run_job(&job.name, &job.args).await
}
