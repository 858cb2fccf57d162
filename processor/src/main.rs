//! `event-processor`: see `event-processor --help` and the crate docs of `processor`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser as _;
use processor::config::Args;
use processor::Done;

fn main() -> ExitCode {
    let config = match Args::parse().validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("event-processor: {e}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_max_level(config.log_level)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // A consumer runs for days: two malloc arenas and a fixed mmap threshold, before any thread
    // starts, and the free memory given back at each summary (run.rs), keep a burst (a
    // rebalance, a backlog after a fault) from staying in its RSS.
    memory::long_running();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("event-processor: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(processor::run(config, telemetry::shutdown::signal())) {
        Ok(Done::Reset(done)) => {
            println!("event-processor --reset: {done}");
            ExitCode::SUCCESS
        }
        Ok(Done::Stopped) => {
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(e.exit_code())
        }
    }
}
