//! `tidemark up` built inside the test package, so the crash test can start and
//! SIGKILL a real process (`CARGO_BIN_EXE_tidemark-node`).

use clap::Parser;

#[derive(Parser)]
struct Node {
    #[command(flatten)]
    up: tidemark::config::UpArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tidemark::run_up(&Node::parse().up).await
}
