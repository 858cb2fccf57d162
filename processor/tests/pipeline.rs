//! The event processor on the real stack: PostgreSQL (`demo_generate`) → Debezium → Kafka →
//! `event-processor` (the built binary) → FerretDB. Each test uses its own MongoDB database and
//! consumer group, starting at the topic's current end, and compares the store with what the
//! outbox implies, computed in SQL.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use e2e::StackEnv;
use futures_util::TryStreamExt as _;
use mongodb::bson::{doc, Document};
use tokio::process::{Child, Command};

/// The tests share the topic and the machine's two cores: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Harness {
    env: StackEnv,
    name: String,
    pg: tokio_postgres::Client,
    mongo: mongodb::Database,
    group: String,
    start: Vec<(i32, i64)>,
}

impl Harness {
    async fn new(name: &str) -> anyhow::Result<Self> {
        let env = StackEnv::from_env()?;
        let pg = env.postgres().await?;
        let client = env.mongodb().await?;
        let db_name = format!("e2e_{name}");
        let mongo = client.database(&db_name);
        mongo.drop().await?;
        let group = format!("e2e-{name}-{}", uuid::Uuid::now_v7());
        for entry in std::fs::read_dir(env!("CARGO_TARGET_TMPDIR"))? {
            let path = entry?.path();
            let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
            if file.starts_with(&format!("processor-{name}-")) {
                std::fs::remove_file(&path)?;
            }
        }
        let start = e2e::end_offsets(&env, &env.cdc_topic)?;
        e2e::commit_group(&env, &group, &env.cdc_topic, &start)?;
        Ok(Self {
            env,
            name: name.to_owned(),
            pg,
            mongo,
            group,
            start,
        })
    }

    fn uri(&self) -> String {
        let base = self
            .env
            .mongodb_uri
            .rsplit_once('/')
            .map_or(self.env.mongodb_uri.as_str(), |(b, _)| b);
        format!("{base}/{}", self.mongo.name())
    }

    fn log_path(&self, instance: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("processor-{}-{instance}.log", self.name))
    }

    /// Starts `event-processor` with this test's database and group.
    fn spawn(&self, instance: &str, extra: &[(&str, &str)]) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(instance))?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_event-processor"));
        cmd.env("MONGODB_URI", self.uri())
            .env("PROCESSOR_GROUP", &self.group)
            .env("KAFKA_BOOTSTRAP", &self.env.kafka_bootstrap)
            .env("CDC_TOPIC", &self.env.cdc_topic)
            .env("METRICS_ADDR", "off")
            .env("LOG_LEVEL", "INFO")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.spawn().context("starting event-processor")
    }

    /// Scrapes `/metrics` of an instance started with `METRICS_ADDR=addr` and sums the samples
    /// whose line starts with `prefix`.
    async fn metric(addr: &str, prefix: &str) -> anyhow::Result<f64> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut s = tokio::net::TcpStream::connect(addr)
            .await
            .with_context(|| format!("metrics at {addr}"))?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await?;
        let mut text = String::new();
        s.read_to_string(&mut text).await?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    fn log(&self, instance: &str) -> String {
        std::fs::read_to_string(self.log_path(instance)).unwrap_or_default()
    }

    async fn generate(&self, n: i64) -> anyhow::Result<i64> {
        let row = self
            .pg
            .query_one("SELECT run_id FROM demo_generate($1)", &[&n])
            .await
            .context("demo_generate")?;
        Ok(row.get(0))
    }

    async fn receipts(&self, run_id: i64) -> anyhow::Result<u64> {
        Ok(self
            .mongo
            .collection::<Document>(events::names::PROCESSED_EVENTS)
            .count_documents(doc! { "run_id": run_id })
            .await?)
    }

    /// Waits until `want` receipts of the run exist.
    async fn wait_receipts(&self, run_id: i64, want: u64, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let have = self.receipts(run_id).await?;
            if have >= want {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("only {have} of {want} receipts of run {run_id} after {within:?}; processor log:\n{}", self.log("a"));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// users, activities and statistics as the outbox implies them, in a comparable form.
    async fn expected(&self, run_id: i64) -> anyhow::Result<State> {
        let mut state = State::default();
        for r in self.pg.query(
            "SELECT aggregate_id::text, concat_ws('|', payload->>'name', payload->>'email', payload->>'city',
                    payload->>'country', payload->'interests')
               FROM activity.event_outbox WHERE run_id = $1 AND event_type = 'UserCreated'", &[&run_id]).await? {
            state.users.insert(r.get(0), r.get(1));
        }
        for r in self.pg.query(
            "SELECT a.aggregate_id::text,
                    concat_ws('|', a.payload->>'organizer_id', a.payload->>'title', a.payload->>'category',
                              a.payload->>'city', a.payload->>'starts_at', a.payload->>'duration_minutes',
                              a.payload->>'capacity'),
                    coalesce((SELECT string_agg(j.payload->>'user_id', ',' ORDER BY j.seq)
                                FROM activity.event_outbox j
                               WHERE j.run_id = a.run_id AND j.event_type = 'ParticipantJoined'
                                 AND j.aggregate_id = a.aggregate_id), ''),
                    (SELECT count(*) FROM activity.event_outbox j
                      WHERE j.run_id = a.run_id AND j.event_type = 'ParticipantJoined'
                        AND j.aggregate_id = a.aggregate_id)
               FROM activity.event_outbox a WHERE a.run_id = $1 AND a.event_type = 'ActivityCreated'", &[&run_id]).await? {
            let id: String = r.get(0);
            let fields: String = r.get(1);
            let participants: String = r.get(2);
            state.activities.insert(id.clone(), format!("{fields}|{participants}"));
            state.statistics.insert(id, r.get::<_, i64>(3));
        }
        Ok(state)
    }

    /// The same, read from the store.
    async fn actual(&self) -> anyhow::Result<State> {
        let mut state = State::default();
        for d in self.all(events::names::USERS).await? {
            let interests: Vec<String> = d
                .get_array("interests")?
                .iter()
                .filter_map(|b| b.as_str().map(str::to_owned))
                .collect();
            let value = [
                d.get_str("name")?,
                d.get_str("email")?,
                d.get_str("city")?,
                d.get_str("country")?,
                &serde_json::to_string(&interests)?,
            ]
            .join("|");
            state
                .users
                .insert(d.get_str("_id")?.to_owned(), value.replace(",\"", ", \""));
        }
        for d in self.all(events::names::ACTIVITIES).await? {
            let participants: Vec<&str> = d
                .get_array("participants")?
                .iter()
                .filter_map(|b| b.as_str())
                .collect();
            let value = format!(
                "{}|{}|{}|{}|{}|{}|{}|{}",
                d.get_str("organizer_id")?,
                d.get_str("title")?,
                d.get_str("category")?,
                d.get_str("city")?,
                d.get_str("starts_at")?,
                d.get_i64("duration_minutes")?,
                d.get_i64("capacity")?,
                participants.join(",")
            );
            state.activities.insert(d.get_str("_id")?.to_owned(), value);
        }
        for d in self.all(events::names::STATISTICS).await? {
            state.statistics.insert(
                d.get_str("_id")?.to_owned(),
                d.get_i64("participant_count")?,
            );
        }
        Ok(state)
    }

    async fn all(&self, collection: &str) -> anyhow::Result<Vec<Document>> {
        Ok(self
            .mongo
            .collection::<Document>(collection)
            .find(doc! {})
            .await?
            .try_collect()
            .await?)
    }

    /// Every document of the four collections, for "nothing changed" comparisons.
    async fn snapshot(&self) -> anyhow::Result<BTreeMap<String, Vec<Document>>> {
        let mut out = BTreeMap::new();
        for c in [
            events::names::USERS,
            events::names::ACTIVITIES,
            events::names::STATISTICS,
            events::names::PROCESSED_EVENTS,
        ] {
            let mut docs = self.all(c).await?;
            docs.sort_by(|a, b| {
                a.get_str("_id")
                    .unwrap_or("")
                    .cmp(b.get_str("_id").unwrap_or(""))
            });
            out.insert(c.to_owned(), docs);
        }
        Ok(out)
    }

    async fn assert_converged(&self, run_id: i64, n: u64) -> anyhow::Result<()> {
        assert_eq!(self.receipts(run_id).await?, n, "one receipt per event");
        let expected = self.expected(run_id).await?;
        let actual = self.actual().await?;
        assert_eq!(actual.users.len(), expected.users.len(), "users");
        assert_eq!(
            actual.activities.len(),
            expected.activities.len(),
            "activities"
        );
        for (id, want) in &expected.users {
            assert_eq!(actual.users.get(id), Some(want), "user {id}");
        }
        for (id, want) in &expected.activities {
            assert_eq!(actual.activities.get(id), Some(want), "activity {id}");
        }
        assert_eq!(
            actual.statistics, expected.statistics,
            "statistics.participant_count"
        );
        Ok(())
    }
}

#[derive(Debug, Default, PartialEq)]
struct State {
    users: BTreeMap<String, String>,
    activities: BTreeMap<String, String>,
    statistics: BTreeMap<String, i64>,
}

async fn sigterm(child: &mut Child) -> anyhow::Result<(std::process::ExitStatus, Duration)> {
    let pid = child.id().context("processor already exited")?;
    let started = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .context("processor did not exit within 15 s of SIGTERM")??;
    Ok((exit, started.elapsed()))
}

#[tokio::test]
async fn ten_thousand_events_project_exactly_what_the_outbox_implies() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let h = Harness::new("ten_thousand").await?;
    let metrics_file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("processor-metrics.jsonl");
    let _ = std::fs::remove_file(&metrics_file);
    let mut p = h.spawn("a", &[("METRICS_FILE", metrics_file.to_str().unwrap())])?;
    let run_id = h.generate(10_000).await?;
    h.wait_receipts(run_id, 10_000, Duration::from_secs(120))
        .await?;
    let (status, took) = sigterm(&mut p).await?;
    assert!(status.success(), "exit status {status}");
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
    h.assert_converged(run_id, 10_000).await?;

    // every receipt carries all stamps in order of the pipeline where clocks allow
    let receipts = h.all(events::names::PROCESSED_EVENTS).await?;
    for r in &receipts {
        for k in ["t0", "t0c", "t1", "t2", "t3", "t5"] {
            assert!(r.get_i64(k).is_ok(), "{k} missing in {r}");
        }
        assert!(r.get_i64("t5")? >= r.get_i64("t3")?, "{r}");
    }
    // one JSON line per event in METRICS_FILE
    let lines = std::fs::read_to_string(&metrics_file)?;
    let ids: std::collections::BTreeSet<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .map(|v| v["event_id"].as_str().unwrap_or("").to_owned())
        })
        .collect::<Result<_, _>>()?;
    assert_eq!(ids.len(), 10_000);
    assert!(h.log("a").contains("offsets committed"), "{}", h.log("a"));
    Ok(())
}

#[tokio::test]
async fn a_processor_killed_halfway_and_restarted_converges_to_the_same_state() -> anyhow::Result<()>
{
    let _serial = SERIAL.lock().await;
    let h = Harness::new("kill9").await?;
    let mut p = h.spawn("a", &[])?;
    let run_id = h.generate(10_000).await?;
    h.wait_receipts(run_id, 5_000, Duration::from_secs(120))
        .await?;
    p.kill().await?; // SIGKILL: no commit, no cleanup
    let at_kill = h.receipts(run_id).await?;
    assert!(
        at_kill < 10_000,
        "killed too late to matter ({at_kill} receipts)"
    );
    let _p = h.spawn("a", &[])?;
    h.wait_receipts(run_id, 10_000, Duration::from_secs(120))
        .await?;
    h.assert_converged(run_id, 10_000).await
}

#[tokio::test]
async fn rereading_the_whole_run_from_the_start_changes_no_document() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let h = Harness::new("reread").await?;
    let addr = "127.0.0.1:19111";
    let mut p = h.spawn("a", &[("METRICS_ADDR", addr)])?;
    let n = 3_000;
    let run_id = h.generate(n).await?;
    h.wait_receipts(run_id, n as u64, Duration::from_secs(120))
        .await?;
    let (status, _) = sigterm(&mut p).await?;
    assert!(status.success());
    let before = h.snapshot().await?;

    // the group goes back to where the run started and reads all of it again
    e2e::commit_group(&h.env, &h.group, &h.env.cdc_topic, &h.start)?;
    let _p = h.spawn("b", &[("METRICS_ADDR", addr)])?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let replayed = Harness::metric(addr, "processor_events_total{")
            .await
            .unwrap_or(0.0);
        if replayed >= n as f64 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {replayed} of {n} events re-read; log:\n{}",
            h.log("b")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let replayed = Harness::metric(
        addr,
        "processor_events_total{event_type=\"UserCreated\",outcome=\"replayed\"}",
    )
    .await?
        + Harness::metric(
            addr,
            "processor_events_total{event_type=\"ActivityCreated\",outcome=\"replayed\"}",
        )
        .await?
        + Harness::metric(
            addr,
            "processor_events_total{event_type=\"ParticipantJoined\",outcome=\"replayed\"}",
        )
        .await?;
    assert_eq!(
        replayed, n as f64,
        "every event of the run was recognised as a replay"
    );
    let after = h.snapshot().await?;
    for (collection, docs) in &before {
        assert_eq!(docs.len(), after[collection].len(), "{collection}");
        assert!(
            docs == &after[collection],
            "a document of {collection} changed on replay"
        );
    }
    h.assert_converged(run_id, n as u64).await
}

#[tokio::test]
async fn poison_records_go_to_the_dead_letter_topic_and_the_rest_is_applied() -> anyhow::Result<()>
{
    use rdkafka::message::Headers as _;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::Message as _;
    let _serial = SERIAL.lock().await;
    let h = Harness::new("poison").await?;
    let dlq = format!("{}.dlq", h.env.cdc_topic);
    let dlq_start = e2e::end_offsets(&h.env, &dlq)?;
    let dlq_consumer = h.env.consumer_at_end(&dlq)?;
    let addr = "127.0.0.1:19112";
    let _p = h.spawn("a", &[("METRICS_ADDR", addr)])?;

    // good events around the poison: a run before and a run after
    let first = h.generate(1_000).await?;
    let valid = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/events/tests/fixtures/debezium_create.json"
    ))?;
    let poison: Vec<(&str, String)> = vec![
        ("not JSON", "{this is not json".to_owned()),
        (
            "unknown type",
            valid.replace("\"UserCreated\"", "\"UserDeleted\""),
        ),
        ("payload missing fields", valid.clone()), // the fixture's payload lacks country and interests
        (
            "an update, not an insert",
            valid.replace("\"op\":\"c\"", "\"op\":\"u\""),
        ),
    ];
    let producer: FutureProducer = h.env.kafka_config().create()?;
    for (i, (what, value)) in poison.iter().enumerate() {
        producer
            .send(
                FutureRecord::to(&h.env.cdc_topic)
                    .key("poison")
                    .partition(i as i32 % 3)
                    .payload(value),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| anyhow::anyhow!("producing {what}: {e}"))?;
    }
    let second = h.generate(1_000).await?;
    h.wait_receipts(first, 1_000, Duration::from_secs(120))
        .await?;
    h.wait_receipts(second, 1_000, Duration::from_secs(120))
        .await?;

    // exactly the injected records, each with a reason
    let dlq_end = e2e::end_offsets(&h.env, &dlq)?;
    let added: i64 = dlq_end
        .iter()
        .zip(&dlq_start)
        .map(|((_, e), (_, s))| e - s)
        .sum();
    assert_eq!(added, poison.len() as i64, "dead letters written");
    let mut kinds = Vec::new();
    for _ in 0..poison.len() {
        let m = tokio::time::timeout(Duration::from_secs(10), dlq_consumer.recv()).await??;
        let headers = m.headers().context("dead letter without headers")?;
        let get = |k: &str| {
            (0..headers.count())
                .map(|i| headers.get(i))
                .find(|hd| hd.key == k)
                .and_then(|hd| hd.value.map(|v| String::from_utf8_lossy(v).into_owned()))
        };
        assert!(get("dlq.reason").is_some_and(|r| !r.is_empty()));
        assert_eq!(
            get("dlq.source.topic").as_deref(),
            Some(h.env.cdc_topic.as_str())
        );
        kinds.push(get("dlq.reason.kind").unwrap_or_default());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "invalid_envelope",
            "invalid_payload",
            "not_an_insert",
            "unknown_event_type"
        ]
    );
    assert_eq!(
        Harness::metric(addr, "processor_dead_letters_total{").await?,
        poison.len() as f64
    );
    // the good events on both sides are all applied
    assert_eq!(h.receipts(first).await? + h.receipts(second).await?, 2_000);
    Ok(())
}

#[tokio::test]
async fn two_instances_share_the_partitions_and_converge_to_the_same_state() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let h = Harness::new("two").await?;
    let (a, b) = ("127.0.0.1:19113", "127.0.0.1:19114");
    let _pa = h.spawn("a", &[("METRICS_ADDR", a)])?;
    let _pb = h.spawn("b", &[("METRICS_ADDR", b)])?;
    // both members joined before the load starts
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(h.log("a").contains("partitions assigned")
        && h.log("b").contains("partitions assigned"))
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "both instances were not assigned partitions in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let run_id = h.generate(10_000).await?;
    h.wait_receipts(run_id, 10_000, Duration::from_secs(120))
        .await?;
    let applied_a = Harness::metric(a, "processor_events_total{").await?;
    let applied_b = Harness::metric(b, "processor_events_total{").await?;
    assert!(
        applied_a > 0.0 && applied_b > 0.0,
        "both instances applied events ({applied_a}, {applied_b})"
    );
    assert!(applied_a + applied_b >= 10_000.0);
    h.assert_converged(run_id, 10_000).await
}

#[tokio::test]
async fn the_store_stopped_for_ten_seconds_mid_run_loses_nothing() -> anyhow::Result<()> {
    let _serial = SERIAL.lock().await;
    let h = Harness::new("outage").await?;
    if !h.env.mongodb_uri.contains("127.0.0.1:27017") {
        eprintln!("MONGODB_URI points elsewhere; this test stops the local FerretDB only");
        return Ok(());
    }
    let mut p = h.spawn("a", &[])?;
    let run_id = h.generate(10_000).await?;
    h.wait_receipts(run_id, 2_000, Duration::from_secs(120))
        .await?;
    let stack = concat!(env!("CARGO_MANIFEST_DIR"), "/../stack");
    let down = std::process::Command::new("bash")
        .arg(format!("{stack}/down.sh"))
        .arg("ferretdb")
        .status()?;
    assert!(down.success(), "stack/down.sh ferretdb");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        p.try_wait()?.is_none(),
        "the processor exited during the outage:\n{}",
        h.log("a")
    );
    let up = std::process::Command::new("bash")
        .arg(format!("{stack}/up.sh"))
        .stdout(Stdio::null())
        .status()?;
    assert!(up.success(), "stack/up.sh");
    h.wait_receipts(run_id, 10_000, Duration::from_secs(180))
        .await?;
    let log = h.log("a");
    assert!(
        log.contains("MongoDB store at 127.0.0.1:27017"),
        "the outage is logged with the address:\n{log}"
    );
    assert!(log.contains("is back"), "{log}");
    h.assert_converged(run_id, 10_000).await
}
