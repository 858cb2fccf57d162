//! `event-processor`: see `event-processor --help` and the crate docs of `processor`.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use processor::config::Args;
use processor::metrics::Metrics;
use processor::run::Processor;
use tokio::sync::watch;

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
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("event-processor: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async_main(config))
}

async fn async_main(config: processor::config::Config) -> ExitCode {
    if config.reset {
        return match processor::run::reset(&config).await {
            Ok(done) => {
                println!("event-processor --reset: {done}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("{e:#}");
                ExitCode::from(2)
            }
        };
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stop requested: finishing the batch in flight, then committing");
        let _ = stop_tx.send(true);
    });
    let metrics = Arc::new(Metrics::new());
    if let Some(addr) = config.metrics_addr {
        let listener = match telemetry::http::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("{e}; set METRICS_ADDR to another address, or off");
                return ExitCode::from(2);
            }
        };
        // With port 0 the OS picks the port: the log names the one bound.
        let bound = listener.local_addr().unwrap_or(addr);
        let m = Arc::clone(&metrics);
        let mut stop = stop_rx.clone();
        tokio::spawn(telemetry::http::serve(
            listener,
            move |path| {
                (path == "/metrics").then(|| telemetry::http::Response {
                    content_type: telemetry::prom::CONTENT_TYPE,
                    body: m.render(),
                })
            },
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        ));
        tracing::info!("metrics on http://{bound}/metrics");
    }
    let processor = match Processor::connect(config, metrics, stop_rx).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e:#}");
            return ExitCode::from(2);
        }
    };
    match processor.run().await {
        Ok(()) => {
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            // Without signal handlers the process still stops on the default action.
            std::future::pending::<()>().await;
        }
    }
}
