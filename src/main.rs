//! presign-bench: parse the command line, set up logging, turn SIGINT/SIGTERM into a cancellation
//! token (the only signal handlers in the program), run, map errors to an exit code.

use clap::Parser;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = presign_bench::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("PRESIGN_BENCH_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_smithy_runtime=warn,aws_sdk_s3=warn,s3s=warn")
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let stop = CancellationToken::new();
        tokio::spawn(cancel_on_signal(stop.clone()));
        Box::pin(presign_bench::cli::dispatch(cli, stop)).await
    });
    // A server watching its stdin has a blocking read in flight; do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(presign_bench::exit::code(&e))
        }
    }
}

/// Cancels `stop` on the first SIGINT or SIGTERM.
async fn cancel_on_signal(stop: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
    }
    tracing::warn!("interrupted: stopping (a run writes a partial report)");
    stop.cancel();
}
