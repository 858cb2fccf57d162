//! The verifier on the real stack: PostgreSQL (`demo_generate`) → Debezium → Kafka →
//! `event-processor` → FerretDB, followed by the built `verifier` binary. Each test that runs a
//! processor works in an [`e2e::Scratch`] (its own MongoDB database and processor group at the
//! topic's current end, and the pipeline lock) and picks its own run, never "the newest".

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use e2e::wait::{self, Step};
use e2e::{Scratch, StackEnv};
use events::Stage;
use mongodb::bson::{doc, Document};
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message as _;
use tokio::process::Command;

#[path = "stack/daemon.rs"]
mod daemon;

/// Generous objectives: these tests are about counting, not about this machine's speed.
const GENEROUS_SLO: &str =
    r#"{"p50_max_ms": 60000, "p95_max_ms": 60000, "p99_max_ms": 60000, "throughput_min_eps": 1}"#;

/// The summary of `stage` in a report.json.
fn stage(report: &serde_json::Value, stage: Stage) -> &serde_json::Value {
    report["stages"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == stage.as_str()))
        .unwrap_or(&serde_json::Value::Null)
}

/// `verifier ARGS` in the scratch (log level WARNING), run to its end: exit code, stdout,
/// stderr.
async fn run_verifier(s: &Scratch, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let out = s
        .command("verifier")?
        .args(args)
        .env("LOG_LEVEL", "WARNING")
        .output()
        .await
        .context("running verifier")?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn a_run_is_verified_three_ways_and_a_lost_receipt_is_named() -> anyhow::Result<()> {
    let st = Scratch::new("verifier").await?;
    let slo = st.dir.join("slo.json");
    std::fs::write(&slo, GENEROUS_SLO)?;
    let mut processor = st.processor("a", &[])?;
    let topic_reader = st.env.consumer_at_end(&st.env.cdc_topic)?;
    let run_id = st.generate(2000).await?;
    watch_verifies_the_run(&st, run_id, &slo).await?;
    a_kafka_duplicate_still_passes(&st, run_id, &topic_reader, &slo).await?;
    a_count_applied_twice_fails_check(&st, run_id).await?;
    processor.child.kill().await?;
    a_lost_receipt_is_named(&st, run_id).await
}

/// `watch` serves /status and /metrics while it follows, prints progress, and reports every
/// event on Kafka and in MongoDB with the state audited clean.
async fn watch_verifies_the_run(st: &Scratch, run_id: i64, slo: &Path) -> anyhow::Result<()> {
    let run = run_id.to_string();
    let out = st.dir.join("report");
    let log = st.dir.join("verifier.log");
    let ready = st.dir.join("verifier.ready");
    let watch = st
        .command("verifier")?
        .args([
            "watch",
            "--run",
            &run,
            "--listen",
            "127.0.0.1:0",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
            "--slo",
            slo.to_str().unwrap(),
            "--timeout",
            "240",
            "--log-file",
            log.to_str().unwrap(),
            "--ready-file",
            ready.to_str().unwrap(),
        ])
        .env("LOG_LEVEL", "INFO")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    endpoints_answer_while_it_follows(run_id, &ready).await?;
    let output = tokio::time::timeout(Duration::from_secs(300), watch.wait_with_output()).await??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "verifier watch failed:\n{stderr}\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    report_counts_every_event(st, run_id, &report).await?;
    for f in [
        "report.json",
        "report.html",
        "end_to_end.hlog",
        "commit.hlog",
    ] {
        assert!(out.join(f).exists(), "{f} missing in {}", out.display());
    }
    // Progress lines: at least one (the last one is printed when following ends).
    let progress = format!("run {run_id} [");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&progress) && l.contains("/2000 in MongoDB")),
        "no progress line on stderr:\n{stderr}"
    );
    Ok(())
}

/// /metrics and /status answer while `watch` follows, on the port the OS gave it (named in
/// its ready file).
async fn endpoints_answer_while_it_follows(run_id: i64, ready: &Path) -> anyhow::Result<()> {
    let addr = e2e::wait_ready_addr(ready, "status").await?;
    let status = wait::until("/status naming the run", TIMEOUT, || async {
        let s = e2e::http_get(&addr, "/status").await?;
        let named = s.contains(&format!("\"run_id\":{run_id}"));
        Ok(Step::when(named, s.clone(), || {
            s.lines().last().unwrap_or("").to_owned()
        }))
    })
    .await?;
    assert!(status.contains("\"backlog\""), "{status}");
    let metrics = e2e::http_get(&addr, "/metrics").await?;
    assert!(
        metrics.contains(&format!(
            "verifier_events{{run_id=\"{run_id}\",state=\"expected\"}} 2000"
        )),
        "{metrics}"
    );
    Ok(())
}

/// The report's counts equal the outbox's rows, every end-to-end sample is counted, and the
/// state is audited clean.
async fn report_counts_every_event(
    st: &Scratch,
    run_id: i64,
    report: &serde_json::Value,
) -> anyhow::Result<()> {
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
        stage(report, Stage::EndToEnd)["count"],
        2000,
        "every end-to-end sample counted"
    );
    // The stack's topic is on LogAppendTime: T2 is the broker's append, for every record read.
    let read = report["counts"]["kafka"].as_u64().unwrap_or(0)
        + report["counts"]["kafka_duplicates"].as_u64().unwrap_or(0);
    assert_eq!(
        report["t2_kind"], "log_append_time",
        "{}",
        report["t2_meaning"]
    );
    assert_eq!(report["t2_records"]["log_append_time"].as_u64(), Some(read));
    assert_eq!(report["t2_records"]["create_time"], 0);
    Ok(())
}

/// One record of the run produced again: a Kafka duplicate, still a pass.
async fn a_kafka_duplicate_still_passes(
    st: &Scratch,
    run_id: i64,
    topic_reader: &StreamConsumer,
    slo: &Path,
) -> anyhow::Result<()> {
    let run = run_id.to_string();
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
    let (code, stdout, stderr) = run_verifier(
        st,
        &[
            "report",
            "--run",
            &run,
            "--format",
            "json",
            "--slo",
            slo.to_str().unwrap(),
            "--idle-timeout",
            "5",
        ],
    )
    .await?;
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(
        report["counts"]["kafka_duplicates"], 1,
        "{}",
        report["counts"]
    );
    assert_eq!(report["integrity"]["passed"], true);

    Ok(())
}

/// One effect applied twice (a participant counted again): check finds it and fails.
async fn a_count_applied_twice_fails_check(st: &Scratch, run_id: i64) -> anyhow::Result<()> {
    let run = run_id.to_string();
    // activity is one this run joined, so `check --run` audits it.
    let stats = st.db.collection::<Document>(events::names::STATISTICS);
    let activity: String = st
        .pg
        .query_one(
            "SELECT aggregate_id::text FROM activity.event_outbox
              WHERE run_id = $1 AND event_type = 'ParticipantJoined' ORDER BY seq LIMIT 1",
            &[&run_id],
        )
        .await
        .context("a join of the run")?
        .get(0);
    let bump = |by: i32| {
        stats.update_one(
            doc! { "_id": &activity },
            doc! { "$inc": { "participant_count": by } },
        )
    };
    bump(1).await?;
    let (code, stdout, stderr) =
        run_verifier(st, &["check", "--run", &run, "--idle-timeout", "3"]).await?;
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

    Ok(())
}

/// One receipt deleted: check names the event and fails.
async fn a_lost_receipt_is_named(st: &Scratch, run_id: i64) -> anyhow::Result<()> {
    let run = run_id.to_string();
    let victim = st
        .db
        .collection::<Document>(events::names::PROCESSED_EVENTS)
        .find_one(doc! { "run_id": run_id, "seq": 777_i64 })
        .await?
        .context("receipt of seq 777")?;
    let id = victim.get_str("_id")?.to_owned();
    st.db
        .collection::<Document>(events::names::PROCESSED_EVENTS)
        .delete_one(doc! { "_id": &id })
        .await?;
    let (code, stdout, stderr) =
        run_verifier(st, &["check", "--run", &run, "--idle-timeout", "3"]).await?;
    assert_eq!(code, 1, "{stderr}\n{stdout}");
    // The processor committed past it without an effect: lost, not pending.
    assert!(
        stdout.contains(&format!(
            "lost: event {id} seq 777 last seen at kafka: partition "
        )) && stdout.contains("the consumer group committed past it"),
        "{stdout}"
    );
    assert!(stdout.contains("integrity: FAIL"), "{stdout}");
    assert!(
        stdout.contains("of the missing: lost 1 · pending 0"),
        "{stdout}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
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
        let mut c = Command::new(e2e::binary("verifier")?);
        c.args(["check", "--run", "latest"])
            .env("KAFKA_BOOTSTRAP", &env.kafka_bootstrap)
            .env("PGPASSWORD", &env.pg_password)
            .env(var, value)
            .env("LOG_LEVEL", "ERROR");
        let out = tokio::time::timeout(Duration::from_secs(60), c.output()).await??;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(named), "{var}={value}: {stderr}");
    }
    let out = Command::new(e2e::binary("verifier")?)
        .args(["check", "--run", "987654321"])
        .env("KAFKA_BOOTSTRAP", &env.kafka_bootstrap)
        .env("PGPASSWORD", &env.pg_password)
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

/// The report of a run whose events all sit behind `backlog` records nobody consumed yet:
/// `verifier report` with a short idle timeout, as JSON.
async fn report_json(
    st: &Scratch,
    run_id: i64,
    idle: &str,
) -> anyhow::Result<(i32, serde_json::Value, String)> {
    let (code, stdout, stderr) = run_verifier(
        st,
        &[
            "report",
            "--run",
            &run_id.to_string(),
            "--format",
            "json",
            "--idle-timeout",
            idle,
            "--slo",
            st.dir.join("slo.json").to_str().unwrap(),
        ],
    )
    .await?;
    let report = serde_json::from_str(&stdout).with_context(|| format!("{stderr}\n{stdout}"))?;
    Ok((code, report, stderr))
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn late_events_are_pending_not_lost_and_a_draining_consumer_is_not_idle() -> anyhow::Result<()>
{
    let st = Scratch::new("verifier_late").await?;
    std::fs::write(st.dir.join("slo.json"), GENEROUS_SLO)?;
    // 30,000 records ahead of the run that the group has not consumed, and no consumer yet.
    // The run starts more than the verifier's 5 s read margin after them, so the verifier's
    // own read of the topic (from the run's start less 5 s) does not pass over the backlog:
    // while the backlog drains, only the consumer moves.
    let backlog = st.generate(30_000).await?;
    wait::until("6 s since the backlog was written", TIMEOUT, || async {
        let row = st
            .pg
            .query_one(
                "SELECT clock_timestamp() - max(created_at) > interval '6 seconds'
                   FROM activity.event_outbox WHERE run_id = $1",
                &[&backlog],
            )
            .await?;
        Ok(Step::when(row.get(0), (), || "not yet".into()))
    })
    .await?;
    let run_id = st.generate(500).await?;
    let (code, r, stderr) = report_json(&st, run_id, "3").await?;
    assert_eq!(code, 3, "incomplete, not a failure: {stderr}");
    assert_eq!(r["verdict"], "incomplete");
    let i = &r["integrity"];
    assert_eq!(
        (
            i["status"].as_str(),
            i["lost"].as_u64(),
            i["pending"].as_u64()
        ),
        (Some("incomplete"), Some(0), Some(500)),
        "{i}"
    );
    let first = &i["missing"][0];
    assert_eq!(first["fate"], "pending", "{first}");
    assert!(
        first["ahead"].as_i64() > Some(0),
        "records ahead of it: {first}"
    );
    // nothing reached MongoDB: the stages ending there are unmeasured, not 0
    let e2e = stage(&r, Stage::EndToEnd);
    assert_eq!(e2e["count"], 0);
    assert!(e2e["p50_ms"].is_null() && e2e["max_ms"].is_null(), "{e2e}");

    // Once a processor drains the backlog, the verifier waits for it (its commits, every
    // second, advance toward the run), though the idle timeout (3 s) is far shorter than the
    // drain (30,000 records: about 8 to 20 s here), and the run passes. The report starts once
    // the processor is consuming, so its start-up (joining the group) is not part of the wait.
    // Batches of 200 keep each commit's step short on a loaded machine too (a batch of 1,000
    // took over 2 s with the CPUs busy, and the consumer then did not move for 2 s).
    let p = st.processor("a", &[("BATCH_SIZE", "200")])?;
    st.wait_receipts(backlog, 1, TIMEOUT, &p).await?;
    let (code, r, stderr) = report_json(&st, run_id, "3").await?;
    assert_eq!(code, 0, "{stderr}\n{}\n{}", r["integrity"], p.log());
    assert_eq!(r["counts"]["receipts"], 500);
    assert_eq!(
        st.receipts(backlog).await?,
        30_000,
        "the backlog was drained first"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn a_topic_on_create_time_is_measured_as_it_is_and_said_so() -> anyhow::Result<()> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let st = Scratch::new("verifier_create_time").await?;
    let topic = format!("e2e-create-time-{}", uuid::Uuid::now_v7().simple());
    e2e::create_topic(
        &st.env,
        &topic,
        3,
        &[("message.timestamp.type", "CreateTime")],
    )
    .await?;
    // The run's records, copied from the CDC topic onto a topic that keeps the producer's
    // create time (our producer's, here): a user's topic as Kafka creates it by default.
    let cdc = st.env.consumer_at_end(&st.env.cdc_topic)?;
    let run_id = st.generate(200).await?;
    let producer: FutureProducer = st.env.kafka_config().create()?;
    let mut copied = 0;
    while copied < 200 {
        let m = tokio::time::timeout(TIMEOUT, cdc.recv()).await??;
        let Some(v) = m.payload() else { continue };
        if !std::str::from_utf8(v).is_ok_and(|s| s.contains(&format!("\"run_id\":{run_id},"))) {
            continue;
        }
        let mut rec = FutureRecord::to(&topic).payload(v).partition(m.partition());
        if let Some(k) = m.key() {
            rec = rec.key(k);
        }
        producer.send(rec, TIMEOUT).await.map_err(|(e, _)| e)?;
        copied += 1;
    }
    std::fs::write(st.dir.join("slo.json"), GENEROUS_SLO)?;
    let out = st
        .command("verifier")?
        .args([
            "report",
            "--run",
            &run_id.to_string(),
            "--format",
            "json",
            "--idle-timeout",
            "3",
        ])
        .env("CDC_TOPIC", &topic)
        .env("LOG_LEVEL", "WARNING")
        .output()
        .await?;
    e2e::delete_topic(&st.env, &topic).await?;
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| String::from_utf8_lossy(&out.stderr).into_owned())?;
    assert_eq!(r["t2_kind"], "create_time", "{}", r["t2_meaning"]);
    assert_eq!(r["t2_records"]["create_time"], 200);
    assert_eq!(r["t2_records"]["log_append_time"], 0);
    let meaning = r["t2_meaning"].as_str().unwrap_or("");
    assert!(meaning.contains("producer create time"), "{meaning}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn a_stopped_rate_run_is_judged_by_what_it_wrote_from_its_schedule() -> anyhow::Result<()> {
    let st = Scratch::new("verifier_rate").await?;
    let _processor = st.processor("a", &[])?;
    // 100,000 events at 400/s would take minutes: stop the run once it has written 1,000.
    let run = st.start_rate_run(100_000, 400.0).await?;
    let run_id = run.run_id;
    wait::until("1,000 events of the rate run written", TIMEOUT, || async {
        let (_, written) = st.run_status(run_id).await?;
        Ok(Step::when(written >= 1_000, (), || {
            format!("{written} written")
        }))
    })
    .await?;
    let stopped: i64 = st
        .pg
        .query_one("SELECT demo_stop($1)", &[&run_id])
        .await?
        .get(0);
    assert_eq!(stopped, 1);
    run.call.await??;
    let (status, written) = st.run_status(run_id).await?;
    assert_eq!(status, "stopped");
    assert!((1_000..100_000).contains(&written), "{written}");
    let slo = st.dir.join("slo.json");
    std::fs::write(&slo, GENEROUS_SLO)?;
    let (code, stdout, stderr) = run_verifier(
        &st,
        &[
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
        ],
    )
    .await?;
    assert_eq!(code, 0, "{stderr}\n{stdout}");
    let r: serde_json::Value = serde_json::from_str(&stdout)?;
    assert_eq!(r["counts"]["expected"], written, "{}", r["counts"]);
    assert_eq!(r["counts"]["receipts"], written);
    assert_eq!(r["integrity"]["passed"], true, "{}", r["integrity"]);
    // Rate mode: the generator's lag is measured beside end to end, and end to end starts at
    // scheduled_at, so it is at least the lag.
    assert_eq!(r["generator_lag"]["count"], written);
    assert!(stage(&r, Stage::EndToEnd)["max_ms"].as_f64() >= r["generator_lag"]["max_ms"].as_f64());
    Ok(())
}

/// Bound for what takes a moment on any machine.
const TIMEOUT: Duration = Duration::from_secs(60);
