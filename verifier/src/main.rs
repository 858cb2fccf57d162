//! `verifier`: see `verifier --help` and the crate docs of `verifier`.
#![forbid(unsafe_code)]

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser as _;
use tokio::sync::watch;
use verifier::cli::{Cli, Command, Format, ReportOpts, RunArgs};
use verifier::follow::{self, Options, Services, Snapshot};
use verifier::hlog::Logs;
use verifier::report::Report;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match telemetry::parse_level(&cli.log_level) {
        Ok(l) => l,
        Err(e) => return fail(2, &e),
    };
    let dashboard =
        matches!(&cli.command, Command::Watch(w) if w.dashboard) && std::io::stdout().is_terminal();
    let log_file = cli
        .log_file
        .clone()
        .or_else(|| dashboard.then(|| "verifier.log".into()));
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    match &log_file {
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            Ok(f) => builder.with_ansi(false).with_writer(Arc::new(f)).init(),
            Err(e) => {
                return fail(
                    2,
                    &format!("cannot open the log file {}: {e}", path.display()),
                )
            }
        },
        None => builder
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return fail(2, &format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run(cli, dashboard))
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("verifier: {msg}");
    ExitCode::from(code)
}

async fn run(cli: Cli, dashboard: bool) -> ExitCode {
    let (run_args, report_opts) = match &cli.command {
        Command::Watch(w) => (w.run.clone(), Some(w.report.clone())),
        Command::Report(r) => (r.run.clone(), Some(r.report.clone())),
        Command::Check(c) => (c.run.clone(), None),
    };
    let slo = match report_opts.as_ref().map(ReportOpts::slo).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return fail(2, &e),
    };
    let baseline = match report_opts.as_ref().and_then(|r| r.baseline.as_ref()) {
        None => None,
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str::<Report>(&t).map_err(|e| e.to_string()))
        {
            Ok(r) => Some(r),
            Err(e) => {
                return fail(
                    2,
                    &format!("--baseline {}: not a report.json: {e}", p.display()),
                )
            }
        },
    };
    if run_args.run == verifier::sources::RunSpec::Next
        && !matches!(&cli.command, Command::Watch(_))
    {
        return fail(
            2,
            "--run next waits for a run to start: only watch does that; report and check need a run id or latest",
        );
    }
    if let Some(r) = &report_opts {
        if r.format == Format::Html && r.out.is_none() {
            return fail(2, "--format html writes report.html: give --out DIR");
        }
    }
    let services = match Services::connect(cli.services.endpoints()).await {
        Ok(s) => s,
        Err(e) => return fail(2, &format!("{e:#}")),
    };
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_on_signal = stop_tx.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_on_signal.send(true);
    });
    if let Command::Watch(w) = &cli.command {
        match w.listen_addr() {
            Err(e) => return fail(2, &e),
            Ok(None) => {}
            Ok(Some(addr)) => match telemetry::http::bind(addr).await {
                Err(e) => {
                    return fail(
                        2,
                        &format!("{e}; set VERIFIER_ADDR (--listen) to another address, or off"),
                    )
                }
                Ok(listener) => {
                    let addr = listener.local_addr().unwrap_or(addr);
                    let rx = snap_rx.clone();
                    let mut stop = stop_rx.clone();
                    tokio::spawn(telemetry::http::serve(
                        listener,
                        move |path| verifier::status::route(path, &rx.borrow()),
                        async move {
                            let _ = stop.wait_for(|s| *s).await;
                        },
                    ));
                    tracing::info!(
                        "metrics on http://{addr}/metrics, status on http://{addr}/status"
                    );
                }
            },
        }
    }
    let ui = if dashboard {
        let rx = snap_rx.clone();
        let stop = stop_tx.clone();
        Some(std::thread::spawn(move || {
            verifier::dashboard::run(rx, stop)
        }))
    } else {
        let mut rx = snap_rx.clone();
        Some(std::thread::spawn(move || {
            // A progress line every second on stderr (every 10 s while nothing changes, as
            // during the audit); stops when following is done.
            let mut last: Option<(Arc<Snapshot>, std::time::Instant)> = None;
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let s = rx.borrow_and_update().clone();
                let quiet = last.as_ref().is_some_and(|(prev, at)| {
                    Arc::ptr_eq(prev, &s) && at.elapsed() < Duration::from_secs(10)
                });
                if s.run.run_id != 0 && !quiet {
                    eprintln!("{}", follow::progress_line(&s));
                    last = Some((Arc::clone(&s), std::time::Instant::now()));
                }
                if s.phase == "done" || rx.has_changed().is_err() {
                    return Ok(());
                }
            }
        }))
    };
    let opts = options(&run_args, slo);
    let started_epoch = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
    let mut logs = Logs::new(started_epoch);
    let outcome = follow::follow(&services, &opts, &snap_tx, stop_rx, &mut logs).await;
    drop(snap_tx);
    if let Some(ui) = ui {
        if let Ok(Err(e)) = ui.join() {
            tracing::error!("dashboard: {e}");
        }
    }
    let mut outcome = match outcome {
        Ok(o) => o,
        Err(e) => return fail(2, &format!("{e:#}")),
    };
    tracing::info!("stopped following: {}", outcome.stopped);
    eprintln!("verifier: stopped following: {}", outcome.stopped);
    if let Some(base) = &baseline {
        outcome.report.compare(base);
    }
    let report = &outcome.report;
    match report_opts {
        None => {
            if matches!(&cli.command, Command::Check(c) if c.json) {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report.integrity).unwrap_or_default()
                );
            } else {
                print!("{}", report.integrity_text());
            }
            ExitCode::from(if report.integrity.passed { 0 } else { 1 })
        }
        Some(opts) => {
            if let Some(dir) = &opts.out {
                if let Err(e) = write_artifacts(dir, report, &logs) {
                    return fail(
                        2,
                        &format!("writing the report into {}: {e}", dir.display()),
                    );
                }
                eprintln!(
                    "verifier: report.txt, report.json, report.html and the .hlog files are in {}",
                    dir.display()
                );
            }
            match opts.format {
                Format::Text | Format::Html => print!("{}", report.text()),
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(report).unwrap_or_default()
                ),
            }
            ExitCode::from(if report.verdict == "pass" { 0 } else { 1 })
        }
    }
}

fn options(r: &RunArgs, slo: verifier::slo::Slo) -> Options {
    Options {
        run: r.run,
        idle_timeout: r.idle(),
        timeout: r.limit(),
        slo,
    }
}

fn write_artifacts(dir: &Path, report: &Report, logs: &Logs) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("report.txt"), report.text())?;
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(report).map_err(std::io::Error::other)?,
    )?;
    std::fs::write(dir.join("report.html"), verifier::html::render(report))?;
    logs.write(dir)
}
