//! `tidemark job run` built inside the test package, so the crash test can SIGKILL a
//! real load (`CARGO_BIN_EXE_tidemark-job`).

use clap::Parser;
use tidemark::config::JobArgs;

#[derive(Parser)]
struct JobRun {
    #[arg(value_parser = tidemark::config::job_parser())]
    name: tidemark::Job,
    #[command(flatten)]
    args: JobArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let run = JobRun::parse();
    tidemark::run_job(run.name, &run.args).await
}
