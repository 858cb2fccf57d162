//! The verifier on the real stack: PostgreSQL (`demo_generate`) → Debezium → Kafka →
//! `event-processor` → FerretDB, followed by the built `verifier` binary. The test uses its own
//! MongoDB database and processor group (starting at the topic's current end).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use e2e::StackEnv;
use mongodb::bson::{doc, Document};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message as _;
use tokio::process::Command;

fn verifier_bin() -> &'static str {
    env!("CARGO_BIN_EXE_verifier")
}

fn processor_bin() -> anyhow::Result<PathBuf> {
    let p = Path::new(verifier_bin()).with_file_name("event-processor");
    if !p.exists() {
        bail!("{} is not built; run the workspace's tests (cargo test --workspace) or cargo build -p event-processor", p.display());
    }
    Ok(p)
}

struct Stack {
    env: StackEnv,
    pg: tokio_postgres::Client,
    mongo: mongodb::Database,
    uri: String,
    group: String,
}

impl Stack {
    async fn new(db: &str) -> anyhow::Result<Self> {
        let env = StackEnv::from_env()?;
        let pg = env.postgres().await?;
        let mongo = env.mongodb().await?.database(db);
        mongo.drop().await?;
        let base = env
            .mongodb_uri
            .rsplit_once('/')
            .map_or(env.mongodb_uri.as_str(), |(b, _)| b);
        let uri = format!("{base}/{db}");
        let group = format!("e2e-verifier-{}", uuid::Uuid::now_v7());
        let start = e2e::end_offsets(&env, &env.cdc_topic)?;
        e2e::commit_group(&env, &group, &env.cdc_topic, &start)?;
        Ok(Self {
            env,
            pg,
            mongo,
            uri,
            group,
        })
    }

    fn verifier(&self, args: &[&str]) -> Command {
        let mut c = Command::new(verifier_bin());
        c.args(args)
            .env("MONGODB_URI", &self.uri)
            .env("PROCESSOR_GROUP", &self.group)
            .env("KAFKA_BOOTSTRAP", &self.env.kafka_bootstrap)
            .env("CDC_TOPIC", &self.env.cdc_topic)
            .env("LOG_LEVEL", "WARNING")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    /// Starts `event-processor` on this test's database and group.
    fn processor(&self, log: &Path) -> anyhow::Result<tokio::process::Child> {
        Ok(Command::new(processor_bin()?)
            .env("MONGODB_URI", &self.uri)
            .env("PROCESSOR_GROUP", &self.group)
            .env("KAFKA_BOOTSTRAP", &self.env.kafka_bootstrap)
            .env("CDC_TOPIC", &self.env.cdc_topic)
            .env("METRICS_ADDR", "off")
            .env("LOG_LEVEL", "WARNING")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?)
            .kill_on_drop(true)
            .spawn()?)
    }

    async fn run_verifier(&self, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
        let out = self
            .verifier(args)
            .output()
            .await
            .context("running verifier")?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

async fn get(addr: &str, path: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await?;
    let mut text = String::new();
    s.read_to_string(&mut text).await?;
    Ok(text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_verified_three_ways_and_a_lost_receipt_is_named() -> anyhow::Result<()> {
    let st = Stack::new("e2e_verifier").await?;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verifier-e2e");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    // Generous objectives: this test is about counting, not about this machine's speed.
    let slo = dir.join("slo.json");
    std::fs::write(
        &slo,
        r#"{"p50_max_ms": 60000, "p95_max_ms": 60000, "p99_max_ms": 60000, "throughput_min_eps": 1}"#,
    )?;
    let mut processor = st.processor(&dir.join("processor.log"))?;
    let topic_reader = st.env.consumer_at_end(&st.env.cdc_topic)?;
    let run_id: i64 = st
        .pg
        .query_one("SELECT run_id FROM demo_generate(2000)", &[])
        .await?
        .get(0);
    let run = run_id.to_string();
    let out = dir.join("report");
    let watch = st
        .verifier(&[
            "watch",
            "--run",
            &run,
            "--listen",
            "127.0.0.1:19122",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
            "--slo",
            slo.to_str().unwrap(),
            "--timeout",
            "240",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // /metrics and /status answer while it follows.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match get("127.0.0.1:19122", "/status").await {
            Ok(s) if s.contains("\"run_id\":") && s.contains(&format!("\"run_id\":{run_id}")) => {
                break s
            }
            _ if Instant::now() > deadline => bail!("no /status from the verifier within 30 s"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    assert!(status.contains("\"backlog\""), "{status}");
    let metrics = get("127.0.0.1:19122", "/metrics").await?;
    assert!(
        metrics.contains(&format!(
            "verifier_events{{run_id=\"{run_id}\",state=\"expected\"}} 2000"
        )),
        "{metrics}"
    );
    let output = tokio::time::timeout(Duration::from_secs(300), watch.wait_with_output()).await??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "verifier watch failed:\n{stderr}\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let outbox: i64 = st
        .pg
        .query_one(
            "SELECT count(*) FROM activity.event_outbox WHERE run_id = $1",
            &[&run_id],
        )
        .await?
        .get(0);
    assert_eq!(outbox, 2000);
    for key in ["expected", "kafka", "receipts", "matched"] {
        assert_eq!(
            report["counts"][key], outbox,
            "counts.{key}: {}",
            report["counts"]
        );
    }
    let i = &report["integrity"];
    assert_eq!(i["passed"], true, "{i}");
    assert_eq!(i["state_audited"], true);
    assert_eq!(i["applied_twice"], 0);
    assert_eq!(
        report["stages"][5]["count"], 2000,
        "every end-to-end sample counted"
    );
    for f in [
        "report.json",
        "report.html",
        "end_to_end.hlog",
        "commit.hlog",
    ] {
        assert!(out.join(f).exists(), "{f} missing in {}", out.display());
    }
    assert!(
        stderr.contains("progress") || stderr.contains("in MongoDB"),
        "progress lines on stderr:\n{stderr}"
    );

    // One record of the run produced again: a Kafka duplicate, still a pass.
    let record = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let m = topic_reader.recv().await?;
            if let Some(v) = m.payload() {
                if std::str::from_utf8(v)
                    .is_ok_and(|s| s.contains(&format!("\"run_id\":{run_id},")))
                {
                    return anyhow::Ok((m.key().map(<[u8]>::to_vec), v.to_vec()));
                }
            }
        }
    })
    .await??;
    let producer: FutureProducer = st.env.kafka_config().create()?;
    let mut rec = FutureRecord::to(&st.env.cdc_topic).payload(&record.1);
    if let Some(k) = &record.0 {
        rec = rec.key(k);
    }
    producer
        .send(rec, Duration::from_secs(10))
        .await
        .map_err(|(e, _)| e)?;
    let (code, stdout, stderr) = st
        .run_verifier(&[
            "report",
            "--run",
            &run,
            "--format",
            "json",
            "--slo",
            slo.to_str().unwrap(),
            "--idle-timeout",
            "5",
        ])
        .await?;
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(
        report["counts"]["kafka_duplicates"], 1,
        "{}",
        report["counts"]
    );
    assert_eq!(report["integrity"]["passed"], true);

    // One effect applied twice (a participant counted again): check finds it and fails.
    let stats = st.mongo.collection::<Document>(events::names::STATISTICS);
    let doc = stats
        .find_one(doc! { "participant_count": { "$gt": 0 } })
        .await?
        .context("a statistics document with participants")?;
    let activity = doc.get_str("_id")?.to_owned();
    let bump = |by: i32| {
        stats.update_one(
            doc! { "_id": &activity },
            doc! { "$inc": { "participant_count": by } },
        )
    };
    bump(1).await?;
    let (code, stdout, stderr) = st
        .run_verifier(&["check", "--run", &run, "--idle-timeout", "3"])
        .await?;
    assert_eq!(code, 1, "{stderr}\n{stdout}");
    assert!(
        stdout.contains("applied twice 1 · broken references 0 · missing effects 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "applied_twice: statistics/{activity} participant_count"
        )),
        "{stdout}"
    );
    bump(-1).await?;

    // One receipt deleted: check names the event and fails.
    let victim = st
        .mongo
        .collection::<Document>(events::names::PROCESSED_EVENTS)
        .find_one(doc! { "run_id": run_id, "seq": 777_i64 })
        .await?
        .context("receipt of seq 777")?;
    let id = victim.get_str("_id")?.to_owned();
    processor.kill().await?;
    st.mongo
        .collection::<Document>(events::names::PROCESSED_EVENTS)
        .delete_one(doc! { "_id": &id })
        .await?;
    let (code, stdout, stderr) = st
        .run_verifier(&["check", "--run", &run, "--idle-timeout", "3"])
        .await?;
    assert_eq!(code, 1, "{stderr}\n{stdout}");
    assert!(
        stdout.contains(&format!("missing: event {id} seq 777 last seen at kafka")),
        "{stdout}"
    );
    assert!(stdout.contains("integrity: FAIL"), "{stdout}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_services_and_unknown_runs_exit_2_with_the_address() -> anyhow::Result<()> {
    let env = StackEnv::from_env()?;
    let cases: [(&str, &str, &str); 3] = [
        ("PGPORT", "1", "PostgreSQL at 127.0.0.1:1"),
        (
            "MONGODB_URI",
            "mongodb://127.0.0.1:1/x",
            "mongodb://127.0.0.1:1/x",
        ),
        ("KAFKA_BOOTSTRAP", "127.0.0.1:1", "Kafka at 127.0.0.1:1"),
    ];
    for (var, value, named) in cases {
        let mut c = Command::new(verifier_bin());
        c.args(["check", "--run", "latest"])
            .env("KAFKA_BOOTSTRAP", &env.kafka_bootstrap)
            .env(var, value)
            .env("LOG_LEVEL", "ERROR");
        let out = tokio::time::timeout(Duration::from_secs(60), c.output()).await??;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(named), "{var}={value}: {stderr}");
    }
    let out = Command::new(verifier_bin())
        .args(["check", "--run", "987654321"])
        .env("KAFKA_BOOTSTRAP", &env.kafka_bootstrap)
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("run 987654321 is not in outbox_demo.runs"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_rate_run_is_judged_by_what_it_wrote_from_its_schedule() -> anyhow::Result<()> {
    let st = Stack::new("e2e_verifier_rate").await?;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verifier-e2e-rate");
    std::fs::create_dir_all(&dir)?;
    let _processor = st.processor(&dir.join("processor.log"))?;
    // 100,000 events at 400/s would take minutes: stop the run after about 3 s.
    let runner = st.env.postgres().await?;
    let call =
        tokio::spawn(async move { runner.batch_execute("CALL demo_run(100000, 400)").await });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopped: i64 = st.pg.query_one("SELECT demo_stop()", &[]).await?.get(0);
    assert_eq!(stopped, 1);
    call.await??;
    let row = st
        .pg
        .query_one(
            "SELECT run_id, written, status FROM outbox_demo.runs ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .await?;
    let (run_id, written, status): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(status, "stopped");
    assert!((100..100_000).contains(&written), "{written}");
    let slo = dir.join("slo.json");
    std::fs::write(
        &slo,
        r#"{"p50_max_ms": 60000, "p95_max_ms": 60000, "p99_max_ms": 60000, "throughput_min_eps": 1}"#,
    )?;
    let (code, stdout, stderr) = st
        .run_verifier(&[
            "report",
            "--run",
            &run_id.to_string(),
            "--format",
            "json",
            "--slo",
            slo.to_str().unwrap(),
            "--idle-timeout",
            "20",
            "--timeout",
            "120",
        ])
        .await?;
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    let r: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(r["counts"]["expected"], written, "{}", r["counts"]);
    assert_eq!(r["counts"]["receipts"], written);
    assert_eq!(r["integrity"]["passed"], true, "{}", r["integrity"]);
    // Rate mode: the generator's lag is measured beside end to end, and end to end starts at
    // scheduled_at, so it is at least the lag.
    assert_eq!(r["generator_lag"]["count"], written);
    assert!(r["stages"][5]["max_ms"].as_f64() >= r["generator_lag"]["max_ms"].as_f64());
    Ok(())
}
