//! A test's own corner of the shared stack: a scratch MongoDB database, a consumer group
//! positioned at the CDC topic's end, a folder for logs, and the binaries started against them.
//!
//! Every real-stack test that runs `event-processor` holds [`crate::exclusive`] through its
//! [`Scratch`]: processors of different tests read the same topic, so two tests at once would
//! apply each other's runs into their databases (and load two cores twice).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use mongodb::bson::{doc, Document};
use tokio::process::{Child, Command};
use tokio::sync::MutexGuard;

use crate::wait::{self, Step};
use crate::StackEnv;

/// A scratch database, group and folder for one test, holding the pipeline lock.
pub struct Scratch {
    /// Where the stack is.
    pub env: StackEnv,
    /// A PostgreSQL connection to database `app`.
    pub pg: tokio_postgres::Client,
    /// The test's MongoDB database (dropped when the scratch is made).
    pub db: mongodb::Database,
    /// The test's consumer group for `event-processor`.
    pub group: String,
    /// The topic's end offsets when the scratch was made (where the group starts).
    pub start: Vec<(i32, i64)>,
    /// Logs and artifacts of this test (emptied when the scratch is made).
    pub dir: PathBuf,
    _lock: MutexGuard<'static, ()>,
}

impl Scratch {
    /// Takes the pipeline lock, drops database `e2e_<name>`, positions a new group at the
    /// topic's end, and empties the test's folder.
    pub async fn new(name: &str) -> anyhow::Result<Self> {
        let lock = crate::exclusive().await;
        let env = StackEnv::from_env()?;
        let pg = env.postgres().await?;
        let db = env.mongodb().await?.database(&format!("e2e_{name}"));
        db.drop()
            .await
            .with_context(|| format!("dropping {} at {}", db.name(), env.mongodb_uri))?;
        let group = format!("e2e-{name}-{}", uuid::Uuid::now_v7());
        let start = crate::end_offsets(&env, &env.cdc_topic)?;
        crate::commit_group(&env, &group, &env.cdc_topic, &start)?;
        let dir = crate::target_tmp().join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            env,
            pg,
            db,
            group,
            start,
            dir,
            _lock: lock,
        })
    }

    /// The MongoDB URI of the scratch database.
    pub fn uri(&self) -> String {
        self.env.mongodb_uri_for(self.db.name())
    }

    /// A command for one of the workspace's binaries with this test's database, group and
    /// stack (`event-processor`, `verifier`); the caller adds arguments and output.
    pub fn command(&self, binary: &str) -> anyhow::Result<Command> {
        let mut c = Command::new(crate::binary(binary)?);
        c.env("MONGODB_URI", self.uri())
            .env("PROCESSOR_GROUP", &self.group)
            .env("KAFKA_BOOTSTRAP", &self.env.kafka_bootstrap)
            .env("CDC_TOPIC", &self.env.cdc_topic)
            .env("PGHOST", &self.env.pg_host)
            .env("PGPORT", self.env.pg_port.to_string())
            .env("PGUSER", &self.env.pg_user)
            .env("PGPASSWORD", &self.env.pg_password)
            .env("PGDATABASE", &self.env.pg_database)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        Ok(c)
    }

    /// Starts `event-processor` (log level INFO, metrics on a port the OS picks) with `extra`
    /// environment; its log is `processor-<instance>.log` in the test's folder.
    pub fn processor(&self, instance: &str, extra: &[(&str, &str)]) -> anyhow::Result<Proc> {
        let log = self.dir.join(format!("processor-{instance}.log"));
        let ready = self.dir.join(format!("processor-{instance}.ready"));
        // a restarted instance must not be taken as ready by its predecessor's file
        let _ = std::fs::remove_file(&ready);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut c = self.command("event-processor")?;
        c.env("METRICS_ADDR", "127.0.0.1:0")
            .env("READY_FILE", &ready)
            .env("LOG_LEVEL", "INFO")
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in extra {
            c.env(k, v);
        }
        let child = c.spawn().context("starting event-processor")?;
        Ok(Proc { child, log, ready })
    }

    /// Receipts of `run_id` in the scratch database.
    pub async fn receipts(&self, run_id: i64) -> anyhow::Result<u64> {
        self.db
            .collection::<Document>(events::names::PROCESSED_EVENTS)
            .count_documents(doc! { "run_id": run_id })
            .await
            .with_context(|| format!("counting receipts in {}", self.uri()))
    }

    /// Waits until at least `want` receipts of `run_id` exist; the error shows `proc`'s log.
    pub async fn wait_receipts(
        &self,
        run_id: i64,
        want: u64,
        within: Duration,
        proc: &Proc,
    ) -> anyhow::Result<()> {
        let what = format!("{want} receipts of run {run_id}");
        wait::until(&what, within, || async {
            let have = self.receipts(run_id).await?;
            Ok(Step::when(have >= want, (), || format!("{have} receipts")))
        })
        .await
        .with_context(|| format!("{} log:\n{}", proc.log.display(), proc.log()))
    }

    /// `SELECT run_id FROM demo_generate(n)`.
    pub async fn generate(&self, n: i64) -> anyhow::Result<i64> {
        Ok(self
            .pg
            .query_one("SELECT run_id FROM demo_generate($1)", &[&n])
            .await
            .context("demo_generate")?
            .get(0))
    }

    /// Starts `CALL demo_run(n, rate)` on a connection of its own and returns its run id
    /// once the run is in the manifest; the call goes on in the returned task.
    pub async fn start_rate_run(&self, n: i64, rate: f64) -> anyhow::Result<RateRun> {
        let before = crate::max_run_id(&self.pg).await?;
        let runner = self.env.postgres().await?;
        let call = tokio::spawn(async move {
            runner
                .batch_execute(&format!("CALL demo_run({n}, rate => {rate})"))
                .await
                .context("CALL demo_run")
        });
        let run_id = wait::until("the rate run in the manifest", WAIT, || async {
            let id = crate::run_after(&self.pg, before).await?;
            Ok(Step::when(id.is_some(), id.unwrap_or(0), || {
                "no run yet".into()
            }))
        })
        .await?;
        Ok(RateRun { run_id, call })
    }

    /// The manifest's status and written count of a run.
    pub async fn run_status(&self, run_id: i64) -> anyhow::Result<(String, i64)> {
        let row = self
            .pg
            .query_one(
                "SELECT status, written FROM outbox_demo.runs WHERE run_id = $1",
                &[&run_id],
            )
            .await
            .with_context(|| format!("reading run {run_id} from outbox_demo.runs"))?;
        Ok((row.get(0), row.get(1)))
    }
}

/// How long a test waits for something that takes a moment on any machine.
const WAIT: Duration = Duration::from_secs(30);

/// A rate run in progress.
pub struct RateRun {
    /// Its id.
    pub run_id: i64,
    /// The `CALL demo_run`, returning when the run ends.
    pub call: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A started binary and its log.
pub struct Proc {
    /// The process (killed when dropped).
    pub child: Child,
    /// Its log (stderr).
    pub log: PathBuf,
    /// Its ready file (`--ready-file`).
    pub ready: PathBuf,
}

impl Proc {
    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The address its `/metrics` bound, from its ready file, once it is ready.
    pub async fn listen_addr(&self) -> anyhow::Result<String> {
        crate::wait_ready_addr(&self.ready, "metrics")
            .await
            .with_context(|| format!("{} log:\n{}", self.log.display(), self.log()))
    }

    /// The sum of its `/metrics` samples whose line starts with `prefix`.
    pub async fn metric(&self, prefix: &str) -> anyhow::Result<f64> {
        let addr = self.listen_addr().await?;
        let text = crate::http_get(&addr, "/metrics").await?;
        Ok(crate::metric_sum(&text, prefix))
    }

    /// SIGTERM, then the exit status and how long it took (at most 15 s).
    pub async fn sigterm(&mut self) -> anyhow::Result<(std::process::ExitStatus, Duration)> {
        sigterm(&mut self.child).await
    }
}

/// SIGTERM to `child`, then its exit status and how long it took (at most 15 s).
pub async fn sigterm(child: &mut Child) -> anyhow::Result<(std::process::ExitStatus, Duration)> {
    let pid = child.id().context("the process already exited")?;
    let started = std::time::Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .with_context(|| format!("pid {pid} did not exit within 15 s of SIGTERM"))??;
    Ok((exit, started.elapsed()))
}
