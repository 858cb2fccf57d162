//! The command line validated, in one place, into a typed [`Config`]: every check of a flag and
//! every file a flag names (the SLO file, the baseline report) is read here, so that `run`
//! starts only with a configuration that can work.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::capacity::CapacityConfig;
use crate::cli::{self, Cli, Format, ReportOpts, RunArgs, ServiceArgs, WatchArgs};
pub use crate::error::ConfigError;
use crate::follow::stop::Limits;
use crate::follow::Options;
use crate::model::manifest::RunSpec;
use crate::model::slo::Slo;
use crate::report::Report;
use crate::sources::Endpoints;

/// A configuration that can run: where the services are, the log, and the command with its
/// own configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the services are.
    pub endpoints: Endpoints,
    /// What to do.
    pub command: Command,
    /// Logging.
    pub log: LogConfig,
}

/// Each command, carrying its own configuration (`soak-report` needs no service:
/// [`crate::soak::report`]).
#[derive(Debug, Clone)]
pub enum Command {
    /// `watch`, `report` and `check`: one run followed, then reported.
    Follow(Box<FollowConfig>),
    /// `capacity`: the search, each step followed.
    Capacity(Box<CapacityConfig>),
    /// `lag`: the processor group's lag, nothing followed.
    Lag {
        /// As JSON.
        json: bool,
    },
    /// `serve`: the daemon.
    Serve(Box<crate::daemon::DaemonConfig>),
}

/// `watch`, `report` and `check`: the run, how to follow it, and what to make of it.
#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// What to follow and how long.
    pub follow: Options,
    /// What to do with the result.
    pub output: Output,
    /// Where `/metrics` and `/status` listen (`watch` only; `None`: nowhere).
    pub listen: Option<SocketAddr>,
    /// Where to say that it is following, and its addresses (`watch --ready-file`).
    pub ready_file: Option<PathBuf>,
    /// Show the live dashboard (`watch --dashboard` with stdout on a terminal).
    pub dashboard: bool,
}

/// What a followed run's command prints and writes.
#[derive(Debug, Clone)]
pub enum Output {
    /// `check`: integrity only, as text or JSON.
    Check {
        /// The `integrity` object of report.json instead of text.
        json: bool,
    },
    /// `watch` and `report`: the whole report.
    Report {
        /// What stdout shows.
        format: Format,
        /// Where the artifacts go.
        out: Option<PathBuf>,
        /// An earlier report to compare with.
        baseline: Option<Box<Report>>,
    },
}

/// Where the log goes and how much of it.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The most detailed level logged.
    pub level: tracing::Level,
    /// A file instead of stderr.
    pub file: Option<PathBuf>,
}

impl Config {
    /// Validates `cli`. `terminal`: stdout is a terminal (the dashboard needs one).
    pub fn from_cli(cli: Cli, terminal: bool) -> Result<Self, ConfigError> {
        let level = telemetry::parse_level(&cli.log_level).map_err(ConfigError::LogLevel)?;
        let command = match cli.command {
            cli::Command::Watch(w) => Command::Follow(Box::new(watch(w, terminal)?)),
            cli::Command::Report(r) => {
                let output = report_output(&r.report)?;
                Command::Follow(Box::new(followed(&r.run, r.report.slo.as_deref(), output)?))
            }
            cli::Command::Check(c) => {
                let output = Output::Check { json: c.json };
                Command::Follow(Box::new(followed(&c.run, None, output)?))
            }
            cli::Command::Capacity(c) => Command::Capacity(Box::new(capacity(c)?)),
            cli::Command::Serve(a) => Command::Serve(Box::new(serve(a)?)),
            cli::Command::Lag(l) => Command::Lag { json: l.json },
            cli::Command::SoakReport(_) => return Err(ConfigError::NoServices),
        };
        let dashboard = matches!(&command, Command::Follow(f) if f.dashboard);
        Ok(Config {
            endpoints: endpoints(&cli.services),
            command,
            log: LogConfig {
                level,
                file: cli
                    .log_file
                    .or_else(|| dashboard.then(|| "verifier.log".into())),
            },
        })
    }
}

/// `watch`: a run followed live, with `/metrics` and `/status`, the dashboard or progress lines.
fn watch(w: WatchArgs, terminal: bool) -> Result<FollowConfig, ConfigError> {
    let listen =
        telemetry::http::parse_listen(&w.listen, "--listen (VERIFIER_ADDR)", "127.0.0.1:9103")
            .map_err(ConfigError::Listen)?;
    let slo = slo_or_default(w.report.slo.as_deref())?;
    Ok(FollowConfig {
        follow: Options {
            fault_log: w.fault_log,
            ..options(&w.run, slo)
        },
        output: report_output(&w.report)?,
        listen,
        ready_file: w.ready_file,
        dashboard: w.dashboard && terminal,
    })
}

/// `report` and `check`: a run that is over (or read until it is), no listener, no dashboard.
fn followed(
    run: &RunArgs,
    slo: Option<&Path>,
    output: Output,
) -> Result<FollowConfig, ConfigError> {
    if run.run == RunSpec::Next {
        return Err(ConfigError::NextOutsideWatch);
    }
    Ok(FollowConfig {
        follow: options(run, slo_or_default(slo)?),
        output,
        listen: None,
        ready_file: None,
        dashboard: false,
    })
}

fn slo_or_default(path: Option<&Path>) -> Result<Slo, ConfigError> {
    path.map_or_else(|| Ok(Slo::default()), read_slo)
}

fn serve(a: crate::cli::ServeArgs) -> Result<crate::daemon::DaemonConfig, ConfigError> {
    let listen =
        telemetry::http::parse_listen(&a.listen, "--listen (VERIFIER_ADDR)", "127.0.0.1:9102")
            .map_err(ConfigError::Listen)?
            .ok_or_else(|| {
                ConfigError::Listen(
                    "serve needs an address to listen on: --listen (VERIFIER_ADDR) cannot be off"
                        .into(),
                )
            })?;
    let slo = slo_or_default(a.slo.as_deref())?;
    let run = RunArgs {
        idle_timeout: a.idle_timeout,
        receipts: a.receipts,
        ..RunArgs::fixed(RunSpec::Latest)
    };
    let token_file = a.allow_start.then(|| {
        a.token_file
            .unwrap_or_else(|| a.runs_dir.join("start.token"))
    });
    let canary = canary(a.canary_rate, a.canary_window_s)?;
    Ok(crate::daemon::DaemonConfig {
        canary,
        runs_dir: a.runs_dir,
        follow: options(&run, slo),
        listen,
        ready_file: a.ready_file,
        token_file,
    })
}

fn canary(
    rate: Option<f64>,
    window_s: u64,
) -> Result<Option<crate::daemon::CanaryConfig>, ConfigError> {
    let Some(rate) = rate else { return Ok(None) };
    if !(rate.is_finite() && rate > 0.0) {
        return Err(ConfigError::Canary(format!(
            "--canary-rate (VERIFIER_CANARY_RATE) {rate}: give a positive number of events per second, e.g. 5"
        )));
    }
    if window_s < 5 {
        return Err(ConfigError::Canary(format!(
            "--canary-window-s (VERIFIER_CANARY_WINDOW_S) {window_s}: give at least 5 seconds (each window is a run with its own report)"
        )));
    }
    Ok(Some(crate::daemon::CanaryConfig { rate, window_s }))
}

fn capacity(c: crate::cli::CapacityArgs) -> Result<CapacityConfig, ConfigError> {
    let bad = |problem: String| ConfigError::Capacity(problem);
    if c.start_rate == 0 || c.max_rate < c.start_rate {
        return Err(bad(format!(
            "--start-rate (START_RATE) {} and --max-rate (MAX_RATE) {}: give 1 <= START_RATE <= MAX_RATE",
            c.start_rate, c.max_rate
        )));
    }
    if c.step_s == 0 || c.budget_s < c.step_s + c.drain_s {
        return Err(bad(format!(
            "--step-s (STEP_S) {} must be at least 1 and fit with --drain-s (DRAIN_S) {} in --budget-s (BUDGET_S) {}",
            c.step_s, c.drain_s, c.budget_s
        )));
    }
    if c.txn_size == 0 {
        return Err(bad("--txn-size (TXN_SIZE) must be at least 1".into()));
    }
    let slo = slo_or_default(c.slo.as_deref())?;
    Ok(CapacityConfig {
        start_rate: c.start_rate,
        max_rate: c.max_rate,
        step_s: c.step_s,
        drain_s: c.drain_s,
        budget_s: c.budget_s,
        txn_size: c.txn_size,
        mix: c.mix,
        slo,
        out: c.out,
    })
}

fn report_output(r: &ReportOpts) -> Result<Output, ConfigError> {
    if r.format == Format::Html && r.out.is_none() {
        return Err(ConfigError::HtmlWithoutOut);
    }
    Ok(Output::Report {
        format: r.format,
        out: r.out.clone(),
        baseline: r.baseline.as_deref().map(read_baseline).transpose()?,
    })
}

fn read_slo(path: &Path) -> Result<Slo, ConfigError> {
    let problem = |problem: String| ConfigError::Slo {
        path: path.to_owned(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    Slo::from_json(&text).map_err(problem)
}

fn read_baseline(path: &Path) -> Result<Box<Report>, ConfigError> {
    let problem = |problem: String| ConfigError::Baseline {
        path: path.to_owned(),
        problem,
    };
    let text = std::fs::read_to_string(path).map_err(|e| problem(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| problem(e.to_string()))
}

fn options(r: &RunArgs, slo: Slo) -> Options {
    Options {
        label: String::new(),
        receipts: r.receipts.clone(),
        fault_log: None,
        live_buckets: None,
        run: r.run,
        limits: Limits {
            idle_timeout: Duration::from_secs(r.idle_timeout),
            timeout: (r.timeout > 0).then(|| Duration::from_secs(r.timeout)),
        },
        slo,
    }
}

fn endpoints(s: &ServiceArgs) -> Endpoints {
    let target = cdc_pgpass::Target {
        host: &s.pg_host,
        port: s.pg_port,
        database: &s.pg_database,
        user: &s.pg_user,
    };
    Endpoints {
        pg_host: s.pg_host.clone(),
        pg_port: s.pg_port,
        pg_user: s.pg_user.clone(),
        pg_password: s.pg_password.clone().or_else(|| cdc_pgpass::find(&target)),
        pg_database: s.pg_database.clone(),
        bootstrap: s.bootstrap.clone(),
        mongodb_uri: s.mongodb_uri.clone(),
        connect: crate::cli::connect_addr(&s.connect_addr),
        topic: s.topic.clone(),
        group: s.group.clone(),
        processor_group: s.processor_group.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::receipt_source::ReceiptSource;

    /// `cmd` and its subcommands reading no environment variable.
    fn without_env(mut cmd: clap::Command) -> clap::Command {
        let ids: Vec<clap::Id> = cmd.get_arguments().map(|a| a.get_id().clone()).collect();
        for id in ids {
            cmd = cmd.mut_arg(id, |a| a.env(None::<&str>));
        }
        let subs: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_owned())
            .collect();
        for sub in subs {
            cmd = cmd.mut_subcommand(sub, without_env);
        }
        cmd
    }

    /// The configuration of `args` alone, whatever the environment of the test run.
    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        use clap::{CommandFactory as _, FromArgMatches as _};
        let mut argv = vec!["verifier"];
        argv.extend_from_slice(args);
        let matches = without_env(Cli::command()).get_matches_from(argv);
        Config::from_cli(Cli::from_arg_matches(&matches).unwrap(), false)
    }

    /// The followed run's configuration of `args`.
    fn followed(args: &[&str]) -> FollowConfig {
        match config(args).unwrap().command {
            Command::Follow(f) => *f,
            other => panic!("{args:?} is not a followed run: {other:?}"),
        }
    }

    /// The daemon's configuration of `args`.
    fn served(args: &[&str]) -> crate::daemon::DaemonConfig {
        match config(args).unwrap().command {
            Command::Serve(d) => *d,
            other => panic!("{args:?} is not serve: {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = config(&["watch"]).unwrap();
        assert_eq!(c.endpoints.topic, events::names::CDC_TOPIC);
        assert_eq!(c.endpoints.group, events::names::VERIFIER_GROUP);
        assert!(c.log.file.is_none());
        assert_eq!(c.log.level, tracing::Level::INFO);
        let w = followed(&["watch"]);
        assert_eq!(w.follow.run, RunSpec::Latest);
        assert_eq!(w.follow.limits.idle_timeout, Duration::from_secs(30));
        assert_eq!(w.follow.limits.timeout, None);
        assert_eq!(w.follow.slo, Slo::default());
        assert_eq!(w.listen, Some("127.0.0.1:9103".parse().unwrap()));
        assert!(!w.dashboard, "no dashboard without a terminal");
        let c = followed(&["check", "--run", "7", "--timeout", "9"]);
        assert!(matches!(c.output, Output::Check { json: false }));
        assert_eq!(c.follow.run, RunSpec::Id(7));
        assert_eq!(c.follow.limits.timeout, Some(Duration::from_secs(9)));
        assert_eq!(c.listen, None);
    }

    #[test]
    fn each_command_carries_its_own_configuration() {
        assert!(matches!(
            config(&["lag", "--json"]).unwrap().command,
            Command::Lag { json: true }
        ));
        let Command::Capacity(c) = config(&["capacity", "--start-rate", "50"]).unwrap().command
        else {
            panic!("not capacity")
        };
        assert_eq!(c.start_rate, 50);
        assert_eq!(
            config(&["soak-report", "/tmp/x"]).unwrap_err(),
            ConfigError::NoServices
        );
    }

    #[test]
    fn combinations_that_cannot_work_are_named() {
        assert_eq!(
            config(&["report", "--run", "next"]).unwrap_err(),
            ConfigError::NextOutsideWatch
        );
        assert_eq!(
            config(&["check", "--run", "next"]).unwrap_err(),
            ConfigError::NextOutsideWatch
        );
        assert!(config(&["watch", "--run", "next", "--listen", "off"]).is_ok());
        assert_eq!(
            config(&["report", "--format", "html"]).unwrap_err(),
            ConfigError::HtmlWithoutOut
        );
        let e = config(&["watch", "--listen", "x"]).unwrap_err();
        assert!(e.to_string().contains("VERIFIER_ADDR"), "{e}");
        let e = config(&["report", "--slo", "/nonexistent/slo.json"]).unwrap_err();
        assert!(
            e.to_string().starts_with("--slo /nonexistent/slo.json: "),
            "{e}"
        );
        let e = config(&["report", "--baseline", "/nonexistent/r.json"]).unwrap_err();
        assert!(e.to_string().contains("not a report.json"), "{e}");
        let e = config(&["serve", "--listen", "off"]).unwrap_err();
        assert!(e.to_string().contains("cannot be off"), "{e}");
    }

    #[test]
    fn the_canary_is_off_unless_asked_and_bad_figures_are_named() {
        assert_eq!(served(&["serve"]).canary, None);
        let d = served(&["serve", "--canary-rate", "5", "--canary-window-s", "30"]);
        assert_eq!(
            d.canary,
            Some(crate::daemon::CanaryConfig {
                rate: 5.0,
                window_s: 30
            })
        );
        for (args, named) in [
            (&["serve", "--canary-rate", "0"][..], "--canary-rate"),
            (&["serve", "--canary-rate", "NaN"][..], "--canary-rate"),
            (
                &["serve", "--canary-rate", "5", "--canary-window-s", "2"][..],
                "--canary-window-s",
            ),
        ] {
            let e = config(args).unwrap_err().to_string();
            assert!(e.contains(named), "{args:?}: {e}");
        }
    }

    #[test]
    fn serve_follows_with_its_own_limits_and_folder() {
        let d = served(&["serve", "--idle-timeout", "12", "--runs-dir", "/tmp/r"]);
        assert_eq!(d.listen, "127.0.0.1:9102".parse().unwrap());
        assert_eq!(d.runs_dir, PathBuf::from("/tmp/r"));
        assert_eq!(d.follow.limits.idle_timeout, Duration::from_secs(12));
        assert_eq!(d.follow.receipts, ReceiptSource::ProcessedEvents);
        assert_eq!(d.token_file, None, "starting runs is off by default");
        let d = served(&["serve", "--runs-dir", "/tmp/r", "--allow-start"]);
        assert_eq!(d.token_file, Some(PathBuf::from("/tmp/r/start.token")));
    }
}
