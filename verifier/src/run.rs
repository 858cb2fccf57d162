//! The verifier's entry point, [`run`]: connect, serve `/metrics` and `/status`, show progress
//! (the dashboard or progress lines), follow the run, and print and write the result. One
//! shutdown path: the `shutdown` future (Ctrl-C in the binary) or `q` in the dashboard sets
//! one stop signal, following ends, and the report of what was seen is still made.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use crate::config::{Command, Config, FollowConfig, Output};
use crate::error::Error;
use crate::follow::{self, Outcome, Services};
use crate::live::view::Snapshot;
use crate::report::hlog::Logs;
use crate::report::Verdict;

/// Runs the command `config` describes until it is done or `shutdown` completes. `Ok`: the
/// verdict (check: integrity; watch and report: integrity and the SLOs); `Err`: it could not
/// run.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Verdict, Error> {
    let endpoints = config.endpoints;
    match config.command {
        Command::Lag { json } => {
            crate::lag::print(&endpoints, json).await?;
            Ok(Verdict::Pass)
        }
        Command::Capacity(cfg) => capacity(endpoints, *cfg, shutdown).await,
        Command::Serve(cfg) => {
            let services = Services::connect(endpoints).await?;
            crate::daemon::serve(services, *cfg, shutdown).await
        }
        Command::Follow(cfg) => follow_one(endpoints, *cfg, shutdown).await,
    }
}

/// `watch`, `report` and `check`: one run followed, with the dashboard or progress lines, then
/// reported.
async fn follow_one(
    endpoints: crate::sources::Endpoints,
    config: FollowConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Verdict, Error> {
    let services = Services::connect(endpoints).await?;
    let (snapshots, snapshot_rx) = watch::channel(Arc::new(Snapshot::default()));
    let (stop, stop_rx) = watch::channel(false);
    let on_shutdown = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = on_shutdown.send(true);
    });
    let bound = match config.listen {
        Some(addr) => Some(serve_status(addr, snapshot_rx.clone(), stop_rx.clone()).await?),
        None => None,
    };
    if let Some(path) = config.ready_file {
        telemetry::ready::write(&path, &[("metrics", bound), ("status", bound)])
            .map_err(|source| Error::ReadyFile { path, source })?;
    }
    let ui = if config.dashboard {
        let (rx, stop) = (snapshot_rx.clone(), stop.clone());
        std::thread::spawn(move || crate::live::dashboard::run(rx, stop))
    } else {
        crate::live::progress::spawn(snapshot_rx.clone())
    };
    let started_epoch_s = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
    let mut logs = Logs::new(started_epoch_s);
    let outcome = follow::follow(&services, &config.follow, &snapshots, stop_rx, &mut logs).await;
    drop(snapshots);
    if let Ok(Err(e)) = ui.join() {
        tracing::error!("dashboard: {e}");
    }
    let outcome = outcome?;
    tracing::info!("stopped following: {}", outcome.stopped);
    eprintln!("verifier: stopped following: {}", outcome.stopped);
    emit(&config.output, outcome, &logs)
}

/// `verifier capacity`: the search, then its answer and table on stdout.
async fn capacity(
    endpoints: crate::sources::Endpoints,
    cfg: crate::capacity::CapacityConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Verdict, Error> {
    use crate::capacity::search::Ending;
    let services = Services::connect(endpoints).await?;
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let out = cfg.out.clone();
    let result = crate::capacity::run(&services, cfg, stop_rx).await?;
    print!("{}", crate::capacity::answer::table(&result));
    println!("\n{}", result.answer);
    eprintln!(
        "verifier: capacity.json, capacity.html and each step's report are in {}",
        out.display()
    );
    if result.ending == Some(Ending::Stopped) {
        return Ok(Verdict::Incomplete);
    }
    let found = result.max_sustainable.is_some()
        && !matches!(
            result.ending,
            Some(Ending::Broken | Ending::NoneSustainable)
        );
    Ok(Verdict::of(found))
}

/// Serves `/metrics` and `/status` from the latest snapshot until `stop`; returns the address
/// bound (with port 0, the one the OS picked).
async fn serve_status(
    addr: SocketAddr,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    stop: watch::Receiver<bool>,
) -> Result<SocketAddr, Error> {
    let addr = listen_until(
        addr,
        move |path| crate::live::status::route(path, &snapshots.borrow()),
        stop,
    )
    .await?;
    tracing::info!("metrics on http://{addr}/metrics, status on http://{addr}/status");
    Ok(addr)
}

/// Binds `addr` and answers `route` there until `stop` is set; returns the address bound (with
/// port 0, the one the OS picked, which the log and the ready file then name).
pub(crate) async fn listen_until(
    addr: SocketAddr,
    route: impl Fn(&str) -> Option<telemetry::http::Response> + Send + Sync + 'static,
    mut stop: watch::Receiver<bool>,
) -> Result<SocketAddr, Error> {
    let listener = telemetry::http::bind(addr).await.map_err(Error::Listen)?;
    let addr = listener.local_addr().unwrap_or(addr);
    tokio::spawn(telemetry::http::serve(listener, route, async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    Ok(addr)
}

/// Prints the result on stdout, writes the artifacts, and returns the verdict.
fn emit(output: &Output, outcome: Outcome, logs: &Logs) -> Result<Verdict, Error> {
    let mut report = outcome.report;
    match output {
        Output::Check { json } => {
            if *json {
                println!("{}", pretty(&report.integrity));
            } else {
                print!("{}", report.integrity_text());
            }
            Ok(Verdict::of_integrity(report.integrity.status))
        }
        Output::Report {
            format,
            out,
            baseline,
        } => {
            if let Some(base) = baseline {
                report.compare(base);
            }
            if let Some(dir) = out {
                crate::report::artifacts::write(dir, &report, logs)?;
                eprintln!(
                    "verifier: report.txt, report.json, report.html and the .hlog files are in {}",
                    dir.display()
                );
            }
            match format {
                crate::cli::Format::Text | crate::cli::Format::Html => print!("{}", report.text()),
                crate::cli::Format::Json => println!("{}", pretty(&report)),
            }
            Ok(report.verdict)
        }
    }
}

fn pretty<T: serde::Serialize>(v: &T) -> String {
    // The report's types serialise to JSON without fail (no maps with non-string keys).
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
