//! The command line and environment, as given (raw): `Config::from_cli` (the layer above)
//! validates them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use events::names::{self, defaults};

use crate::model::manifest::RunSpec;
use crate::model::receipt_source::ReceiptSource;
use crate::sources::Endpoints;

/// Follows every event of a generator run (outbox_demo) from PostgreSQL through Debezium and
/// Kafka into MongoDB; measures each stage (T0 created … T5 written) with HdrHistogram; proves
/// that nothing was lost or applied twice.
///
/// Exit codes: 0 pass, 1 SLO or integrity failure (an event lost or applied twice), 2 could
/// not run (the message names the service and its address, or the unknown run), 3 incomplete:
/// following stopped with events still on their way and nothing proven lost.
#[derive(Debug, Parser)]
#[command(name = "verifier", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Where the services are.
    #[command(flatten)]
    pub services: ServiceArgs,
    /// Log level: ERROR, WARNING, INFO, DEBUG or TRACE.
    #[arg(
        long,
        env = "LOG_LEVEL",
        default_value = "INFO",
        global = true,
        help_heading = "Logging"
    )]
    pub log_level: String,
    /// Write the log to this file instead of stderr (the dashboard always does: default
    /// verifier.log in the current directory).
    #[arg(
        long,
        env = "VERIFIER_LOG_FILE",
        global = true,
        help_heading = "Logging"
    )]
    pub log_file: Option<PathBuf>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: follow every run from now on, the moment it appears in the manifest (bulk
    /// or rate, from psql, a script or anywhere; several at once), each as `watch` does; write
    /// each finished run's report into --runs-dir/run-N; answer /api/runs, /api/runs/N and
    /// /metrics. Restart-safe: a run it was following when it stopped (even by kill -9) is
    /// followed again from its start; a finished run is not followed again.
    Serve(ServeArgs),
    /// Follow one run live until every event is accounted for, then report.
    Watch(WatchArgs),
    /// Report on a run: latencies per stage and event type, throughput, integrity, SLO verdict.
    Report(ReportArgs),
    /// Integrity only: every event on Kafka and in MongoDB, nothing applied twice.
    Check(CheckArgs),
    /// How far the processor's consumer group is behind the CDC topic's end, per partition (what
    /// a run's events would queue behind); `--json` for scripts.
    Lag(LagArgs),
    /// The highest rate the pipeline sustains within the SLOs, and where it breaks: steps of
    /// STEP_S seconds at a fixed offered rate (CALL demo_run), doubling from START_RATE while a
    /// step is sustainable, then bisecting to 5 %. Writes capacity.json, capacity.html and each
    /// step's report into --out. Exit 0: a sustainable rate found; 1: none, or an event lost
    /// or applied twice; 3: stopped (SIGINT, SIGTERM) before the search ended, with what it had
    /// found so far.
    Capacity(CapacityArgs),
    /// A soak's report from its folder (scripts/demo/soak.sh writes the folder and calls this
    /// at its end): totals over every run, each fault with its recovery, a timeline per 10 s,
    /// the memory, CPU and disk of the tool and the stack, and the leak rule. Writes soak.json,
    /// soak.txt and soak.html into the folder and prints soak.txt. Needs no service. Exit 0:
    /// pass; 1: an event lost or applied twice, events still pending, a fault not recovered, or
    /// the daemon's or the processor's memory grew more than 10 % from the tenth minute.
    SoakReport(SoakReportArgs),
}

/// `verifier soak-report`.
#[derive(Debug, Clone, Args)]
pub struct SoakReportArgs {
    /// The soak's folder (meta.json, fault.jsonl, backlog.jsonl, resources.jsonl, runs/).
    pub dir: PathBuf,
}

/// `verifier capacity`.
#[derive(Debug, Clone, Args)]
pub struct CapacityArgs {
    /// The first rate offered, events/s.
    #[arg(long, env = "START_RATE", default_value_t = 100)]
    pub start_rate: u64,
    /// The highest rate offered, events/s.
    #[arg(long, env = "MAX_RATE", default_value_t = 50_000)]
    pub max_rate: u64,
    /// Seconds each step offers its rate.
    #[arg(long, env = "STEP_S", default_value_t = 30)]
    pub step_s: u64,
    /// Seconds after a step within which every event of it must be verified.
    #[arg(long, env = "DRAIN_S", default_value_t = 5)]
    pub drain_s: u64,
    /// Seconds the whole search may take; it stops before a step that would not fit.
    #[arg(long, env = "BUDGET_S", default_value_t = 600)]
    pub budget_s: u64,
    /// Events per transaction of the steps' rate runs (raise it when the generator cannot keep
    /// its schedule).
    #[arg(long, env = "TXN_SIZE", default_value_t = 1)]
    pub txn_size: u32,
    /// The mix of the steps' rate runs (UserCreated/ActivityCreated/ParticipantJoined %).
    #[arg(long, env = "MIX", default_value = "50/30/20")]
    pub mix: String,
    /// SLO file (as `report --slo`); the latency and success objectives judge each step.
    #[arg(long, env = "SLO_FILE")]
    pub slo: Option<PathBuf>,
    /// Where capacity.json, capacity.html and one folder per step go.
    #[arg(long, default_value = "capacity")]
    pub out: PathBuf,
}

/// Service addresses, from flags or the environment (`docs/design.md`, "Environment").
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Services")]
pub struct ServiceArgs {
    /// PostgreSQL host.
    #[arg(long, env = "PGHOST", default_value = defaults::PGHOST, global = true)]
    pub pg_host: String,
    /// PostgreSQL port.
    #[arg(long, env = "PGPORT", default_value_t = defaults::PGPORT, global = true)]
    pub pg_port: u16,
    /// PostgreSQL role.
    #[arg(long, env = "PGUSER", default_value = defaults::PGUSER, global = true)]
    pub pg_user: String,
    /// PostgreSQL password. Better in the environment than on a command line, where the
    /// process list shows it; when neither gives one, it is looked up in the password file
    /// (PGPASSFILE, else ~/.pgpass), as psql does: the local stack's is .stack/secrets/pgpass.
    #[arg(long, env = "PGPASSWORD", global = true, hide_env_values = true)]
    pub pg_password: Option<String>,
    /// PostgreSQL database.
    #[arg(long, env = "PGDATABASE", default_value = names::PG_DATABASE, global = true)]
    pub pg_database: String,
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP", default_value = defaults::KAFKA_BOOTSTRAP, global = true)]
    pub bootstrap: String,
    /// MongoDB connection string; its path names the database.
    #[arg(long, env = "MONGODB_URI", default_value = defaults::MONGODB_URI, global = true)]
    pub mongodb_uri: String,
    /// Kafka Connect's REST address (host:port; several, comma-separated, for the workers of a
    /// distributed Connect), each asked every second whether it answers, so that the progress
    /// line can say which is down and following does not count that time as idle; `off`: not
    /// asked.
    #[arg(
        long,
        env = "CONNECT_ADDR",
        default_value = "127.0.0.1:8083",
        global = true
    )]
    pub connect_addr: String,
    /// The CDC topic.
    #[arg(long, env = "CDC_TOPIC", default_value = names::CDC_TOPIC, global = true)]
    pub topic: String,
    /// The verifier's own consumer group.
    #[arg(long, env = "VERIFIER_GROUP", default_value = names::VERIFIER_GROUP, global = true)]
    pub group: String,
    /// The processor's consumer group, whose lag the backlog shows.
    #[arg(long, env = "PROCESSOR_GROUP", default_value = names::PROCESSOR_GROUP, global = true)]
    pub processor_group: String,
}

impl ServiceArgs {
    /// The endpoints.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            pg_host: self.pg_host.clone(),
            pg_port: self.pg_port,
            pg_user: self.pg_user.clone(),
            pg_password: self.pg_password.clone(),
            pg_database: self.pg_database.clone(),
            bootstrap: self.bootstrap.clone(),
            mongodb_uri: self.mongodb_uri.clone(),
            connect: connect_addr(&self.connect_addr),
            topic: self.topic.clone(),
            group: self.group.clone(),
            processor_group: self.processor_group.clone(),
        }
    }
}

/// `--connect-addr`: `off` is none.
pub(crate) fn connect_addr(a: &str) -> Option<String> {
    (a != "off").then(|| a.to_owned())
}

/// Options shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The run: its id, `latest`, or (watch only) `next`: the first run started after the
    /// verifier, which it waits for (up to --idle-timeout), its Kafka read already open.
    #[arg(long, default_value = "latest")]
    pub run: RunSpec,
    /// Stop waiting when, for this many seconds after the generator finished, nothing moved:
    /// no event of the run, no record on the topic, no WAL confirmed by the replication slot,
    /// no receipt. What is still missing is then reported as missing.
    #[arg(long, default_value_t = 30)]
    pub idle_timeout: u64,
    /// Stop after this many seconds whatever happens (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub timeout: u64,
    /// Where the verifier learns when each event was applied: `processed-events` (the receipts
    /// event-processor writes into the store), `metrics-file:PATH` (JSON lines a consumer
    /// appends, one per applied event, in the EventMetrics shape of docs/design.md; tailed
    /// while it grows, waited for when not there yet) or `observe[:MS]` (no cooperation: the
    /// store polled every MS ms, default 20, for each event's effect; T5 is when it was first
    /// seen, with that resolution reported; queue and process are not measured).
    #[arg(long, env = "RECEIPTS", default_value = "processed-events")]
    pub receipts: ReceiptSource,
}

impl RunArgs {
    /// The run options of a subcommand that has none of its own (`capacity`, `lag`): `run`,
    /// no time limits, the default receipts.
    pub fn fixed(run: RunSpec) -> Self {
        Self {
            run,
            idle_timeout: 0,
            timeout: 0,
            receipts: ReceiptSource::ProcessedEvents,
        }
    }
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable, to stdout.
    Text,
    /// `report.json`'s content, to stdout.
    Json,
    /// `report.html`; needs `--out`.
    Html,
}

/// Options of reports.
#[derive(Debug, Clone, Args)]
pub struct ReportOpts {
    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write report.json, report.html and one .hlog per stage into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// SLO file (JSON; any of throughput_min_eps, throughput_min_events, p50_max_ms,
    /// p95_max_ms, p99_max_ms, success_rate_min). Default: > 100 events/s, p50 < 30 ms,
    /// p95 < 100 ms, p99 < 200 ms end to end, success > 99.9%.
    #[arg(long)]
    pub slo: Option<PathBuf>,
    /// A report.json of an earlier run: the report shows the differences.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
}

/// `verifier watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Which run and how long to wait.
    #[command(flatten)]
    pub run: RunArgs,
    /// Show the live dashboard (needs a terminal; `q` quits). Without it, or without a
    /// terminal, a progress line is printed every second.
    #[arg(long)]
    pub dashboard: bool,
    /// Where /metrics (Prometheus) and /status (JSON) listen; `off` disables them. (9102 is
    /// `verifier serve`'s, the daemon that stack/up.sh starts.)
    #[arg(long, env = "VERIFIER_ADDR", default_value = "127.0.0.1:9103")]
    pub listen: String,
    /// Once connected and following, write this file: one JSON object with the pid and the
    /// addresses /metrics and /status bound (null with --listen off), e.g.
    /// `{"pid": 4242, "metrics": "127.0.0.1:40123", "status": "127.0.0.1:40123"}`. It appears
    /// whole (written, then renamed), so a script waits for the file instead of reading the log.
    #[arg(long, env = "VERIFIER_READY_FILE")]
    pub ready_file: Option<PathBuf>,
    /// A fault run: a file of JSON lines that a fault injector appends to when it injects a
    /// fault and when it heals it (`{"fault": NAME, "event": "start"|"healed", "at_us": µs}`;
    /// scripts/demo/faults.sh writes it). Read every second; the report then shows the fault,
    /// the time to recover and end to end before, during and after it, and judges integrity
    /// only (the SLOs are shown, not judged).
    #[arg(long, env = "FAULT_LOG")]
    pub fault_log: Option<PathBuf>,
    /// The report at the end.
    #[command(flatten)]
    pub report: ReportOpts,
}

/// `verifier serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where the HTTP routes listen: the page (/ every run, /runs/N one run, live or its
    /// report), /api/runs (every run, newest first), /api/runs/N (a finished run's report.json;
    /// a live run's counts and snapshot), /api/health (the parts down), /metrics (Prometheus).
    #[arg(long, env = "VERIFIER_ADDR", default_value = "127.0.0.1:9102")]
    pub listen: String,
    /// The folder of runs: state.json (the first run followed) and run-N/ for each run
    /// (report.txt, report.json, report.html, the .hlog files, and summary.json, written
    /// last: the mark that the run is finished).
    #[arg(long, env = "VERIFIER_RUNS_DIR", default_value = "verifier-runs")]
    pub runs_dir: PathBuf,
    /// Once serving, write this file: the pid and the address bound, e.g.
    /// `{"pid": 4242, "http": "127.0.0.1:9102"}` (written, then renamed).
    #[arg(long, env = "VERIFIER_READY_FILE")]
    pub ready_file: Option<PathBuf>,
    /// Stop following a run when, for this many seconds after its generator finished, nothing
    /// moved; what is still missing is then reported as missing (pending or lost).
    #[arg(long, default_value_t = 30)]
    pub idle_timeout: u64,
    /// Where receipts come from (as for watch).
    #[arg(long, env = "RECEIPTS", default_value = "processed-events")]
    pub receipts: ReceiptSource,
    /// SLO file (as for report) judging every run.
    #[arg(long, env = "SLO_FILE")]
    pub slo: Option<PathBuf>,
    /// Allow starting runs from the page (POST /api/runs), with a token the daemon generates at
    /// each start into --token-file (its owner's only). Off by default: every route only reads.
    #[arg(long, env = "VERIFIER_ALLOW_START")]
    pub allow_start: bool,
    /// Where --allow-start writes the token (default: RUNS_DIR/start.token).
    #[arg(long, env = "VERIFIER_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The canary: keep this many events per second flowing, written by the daemon itself as
    /// rate runs of --canary-window-s seconds back to back (CALL demo_run), each followed like
    /// any other run, so /metrics always has fresh end-to-end latencies and the time of the
    /// last verified event. For a pipeline left running; off by default.
    #[arg(long, env = "VERIFIER_CANARY_RATE", value_name = "EVENTS_PER_S")]
    pub canary_rate: Option<f64>,
    /// Seconds each of the canary's runs lasts (each has its own report).
    #[arg(long, env = "VERIFIER_CANARY_WINDOW_S", default_value_t = 60)]
    pub canary_window_s: u64,
}

/// `verifier report`.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Which run and how long to wait.
    #[command(flatten)]
    pub run: RunArgs,
    /// Output.
    #[command(flatten)]
    pub report: ReportOpts,
}

/// `verifier lag`.
#[derive(Debug, Clone, Args)]
pub struct LagArgs {
    /// Print JSON (`{"group", "topic", "lag", "partitions": [{"partition", "committed", "end"}]}`).
    #[arg(long)]
    pub json: bool,
}

/// `verifier check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Which run and how long to wait.
    #[command(flatten)]
    pub run: RunArgs,
    /// Print the result as JSON (the `integrity` object of report.json) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_parse_with_defaults() {
        let c =
            Cli::try_parse_from(["verifier", "report", "--run", "7", "--format", "json"]).unwrap();
        match c.command {
            Command::Report(r) => {
                assert_eq!(r.run.run, RunSpec::Id(7));
                assert_eq!(r.report.format, Format::Json);
                assert_eq!(r.run.idle_timeout, 30);
            }
            other => panic!("{other:?}"),
        }
        let c = Cli::try_parse_from(["verifier", "watch"]).unwrap();
        let Command::Watch(w) = c.command else {
            panic!()
        };
        assert_eq!(w.run.run, RunSpec::Latest);
        let c = Cli::try_parse_from(["verifier", "watch", "--run", "next"]).unwrap();
        let Command::Watch(next) = c.command else {
            panic!()
        };
        assert_eq!(next.run.run, RunSpec::Next);
        assert_eq!(w.listen, "127.0.0.1:9103");
    }

    #[test]
    fn bad_values_are_named() {
        let e = Cli::try_parse_from(["verifier", "check", "--run", "seven"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("seven") && e.contains("latest") && e.contains("next"),
            "{e}"
        );
    }
}
