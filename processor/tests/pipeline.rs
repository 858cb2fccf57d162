//! The event processor on the real stack: PostgreSQL (`demo_generate`) → Debezium → Kafka →
//! `event-processor` (the built binary) → FerretDB. Each test works in an [`e2e::Scratch`] (its
//! own MongoDB database and consumer group, starting at the topic's current end, and the pipeline
//! lock) and compares the store with what the outbox implies, computed in SQL. A fault is always
//! injected while the run it should disturb is still being written (a rate run, checked in the
//! manifest), so that it meets work on a fast machine and a slow one alike.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use e2e::wait::{self, Step};
use e2e::Scratch;
use futures_util::TryStreamExt as _;
use mongodb::bson::{doc, Document};

/// A test's scratch (database, group, folder, the pipeline lock) and what this file compares.
struct Harness {
    s: Scratch,
}

impl std::ops::Deref for Harness {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.s
    }
}

impl Harness {
    async fn new(name: &str) -> anyhow::Result<Self> {
        Ok(Self {
            s: Scratch::new(name).await?,
        })
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
            .db
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

/// Generous bound for a run's receipts on a slow machine.
const DRAIN: Duration = Duration::from_secs(180);

/// The events of every event type counted by a processor's `processor_events_total` with
/// `outcome`.
async fn events_with_outcome(p: &e2e::Proc, outcome: &str) -> anyhow::Result<f64> {
    let mut sum = 0.0;
    for t in ["UserCreated", "ActivityCreated", "ParticipantJoined"] {
        sum += p
            .metric(&format!(
                "processor_events_total{{event_type=\"{t}\",outcome=\"{outcome}\"}}"
            ))
            .await?;
    }
    Ok(sum)
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn ten_thousand_events_project_exactly_what_the_outbox_implies() -> anyhow::Result<()> {
    let h = Harness::new("ten_thousand").await?;
    let metrics_file = h.dir.join("processor-metrics.jsonl");
    let mut p = h.processor("a", &[("METRICS_FILE", metrics_file.to_str().unwrap())])?;
    let run_id = h.generate(10_000).await?;
    h.wait_receipts(run_id, 10_000, DRAIN, &p).await?;
    let (status, took) = p.sigterm().await?;
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
    assert!(p.log().contains("offsets committed"), "{}", p.log());
    Ok(())
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn a_processor_killed_halfway_and_restarted_converges_to_the_same_state() -> anyhow::Result<()>
{
    let h = Harness::new("kill9").await?;
    let mut p = h.processor("a", &[])?;
    // 25 s of events: the kill comes while the run is still writing, on any machine.
    let run = h.start_rate_run(10_000, 400.0).await?;
    h.wait_receipts(run.run_id, 1_000, DRAIN, &p).await?;
    p.child.kill().await?; // SIGKILL: no commit, no cleanup
    let (status, written) = h.run_status(run.run_id).await?;
    assert_eq!(
        status, "running",
        "killed after the run ended ({written} written): the kill proves nothing"
    );
    let p = h.processor("b", &[])?;
    run.call.await??;
    h.wait_receipts(run.run_id, 10_000, DRAIN, &p).await?;
    h.assert_converged(run.run_id, 10_000).await
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn rereading_the_whole_run_from_the_start_changes_no_document() -> anyhow::Result<()> {
    let h = Harness::new("reread").await?;
    let mut p = h.processor("a", &[])?;
    let n = 3_000;
    let run_id = h.generate(n).await?;
    h.wait_receipts(run_id, n as u64, DRAIN, &p).await?;
    let (status, _) = p.sigterm().await?;
    assert!(status.success());
    let before = h.snapshot().await?;

    // the group goes back to where the run started and reads all of it again
    e2e::commit_group(&h.env, &h.group, &h.env.cdc_topic, &h.start)?;
    let p = h.processor("b", &[])?;
    wait::until(&format!("{n} events re-read"), DRAIN, || async {
        let seen = p.metric("processor_events_total{").await?;
        Ok(Step::when(seen >= n as f64, (), || {
            format!("{seen} events")
        }))
    })
    .await
    .with_context(|| p.log())?;
    assert_eq!(
        events_with_outcome(&p, "replayed").await?,
        n as f64,
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

/// Records the processor must dead-letter: what each is, its value, and the kind of rejection.
fn poison_records() -> anyhow::Result<Vec<(&'static str, String, &'static str)>> {
    let valid = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/events/tests/fixtures/debezium_create.json"
    ))?;
    let mut no_row: serde_json::Value = serde_json::from_str(&valid)?;
    no_row["after"] = serde_json::Value::Null;
    Ok(vec![
        (
            "not JSON",
            "{this is not json".to_owned(),
            "invalid_envelope",
        ),
        (
            "unknown type",
            valid.replace("\"UserCreated\"", "\"UserDeleted\""),
            "unknown_event_type",
        ),
        // the fixture's payload lacks country and interests
        ("payload missing fields", valid.clone(), "invalid_payload"),
        (
            "an update, not an insert",
            valid.replace("\"op\":\"c\"", "\"op\":\"u\""),
            "not_an_insert",
        ),
        (
            "an insert without its row",
            no_row.to_string(),
            "invalid_envelope",
        ),
    ])
}

/// Reads `n` dead letters: `(dlq.reason.kind, dlq.reason)` of each, checking the source topic.
async fn dead_letters(
    h: &Harness,
    consumer: &rdkafka::consumer::StreamConsumer,
    n: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    use rdkafka::message::Headers as _;
    use rdkafka::Message as _;
    let mut out = Vec::new();
    for _ in 0..n {
        let m = tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await??;
        let headers = m.headers().context("dead letter without headers")?;
        let get = |k: &str| {
            (0..headers.count())
                .map(|i| headers.get(i))
                .find(|hd| hd.key == k)
                .and_then(|hd| hd.value.map(|v| String::from_utf8_lossy(v).into_owned()))
        };
        assert_eq!(
            get("dlq.source.topic").as_deref(),
            Some(h.env.cdc_topic.as_str())
        );
        let reason = get("dlq.reason").unwrap_or_default();
        assert!(!reason.is_empty(), "a dead letter without a reason");
        out.push((get("dlq.reason.kind").unwrap_or_default(), reason));
    }
    out.sort();
    Ok(out)
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn poison_records_go_to_the_dead_letter_topic_and_the_rest_is_applied() -> anyhow::Result<()>
{
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let h = Harness::new("poison").await?;
    let dlq = format!("{}.dlq", h.env.cdc_topic);
    let dlq_start = e2e::end_offsets(&h.env, &dlq)?;
    let dlq_consumer = h.env.consumer_at_end(&dlq)?;
    let p = h.processor("a", &[])?;

    // good events around the poison: a run before and a run after
    let first = h.generate(1_000).await?;
    let poison = poison_records()?;
    let producer: FutureProducer = h.env.kafka_config().create()?;
    for (i, (what, value, _)) in poison.iter().enumerate() {
        let record = FutureRecord::to(&h.env.cdc_topic)
            .key("poison")
            .partition(i as i32 % 3)
            .payload(value);
        producer
            .send(record, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| anyhow::anyhow!("producing {what}: {e}"))?;
    }
    let second = h.generate(1_000).await?;
    h.wait_receipts(first, 1_000, DRAIN, &p).await?;
    h.wait_receipts(second, 1_000, DRAIN, &p).await?;

    // exactly the injected records, each with its kind and a reason
    let dlq_end = e2e::end_offsets(&h.env, &dlq)?;
    let added: i64 = dlq_end
        .iter()
        .zip(&dlq_start)
        .map(|((_, e), (_, s))| e - s)
        .sum();
    assert_eq!(added, poison.len() as i64, "dead letters written");
    let letters = dead_letters(&h, &dlq_consumer, poison.len()).await?;
    let mut want: Vec<&str> = poison.iter().map(|(_, _, kind)| *kind).collect();
    want.sort();
    let kinds: Vec<&str> = letters.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, want);
    assert!(
        letters.iter().any(|(_, r)| r.contains("\"after\": null")),
        "the insert without its row is named for it: {letters:?}"
    );
    assert_eq!(
        p.metric("processor_dead_letters_total{").await?,
        poison.len() as f64
    );
    // the good events on both sides are all applied
    assert_eq!(h.receipts(first).await? + h.receipts(second).await?, 2_000);
    Ok(())
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn two_instances_share_the_partitions_and_converge_to_the_same_state() -> anyhow::Result<()> {
    let h = Harness::new("two").await?;
    let a = h.processor("a", &[])?;
    let b = h.processor("b", &[])?;
    // Both members hold partitions, and between them all of them, before the load starts: the
    // group has settled (a first member's provisional assignment of all three does not count).
    let partitions = h.start.len() as f64;
    wait::until("both instances sharing every partition", DRAIN, || async {
        let (pa, pb) = (
            a.metric("processor_assigned_partitions").await?,
            b.metric("processor_assigned_partitions").await?,
        );
        Ok(Step::when(
            pa > 0.0 && pb > 0.0 && pa + pb == partitions,
            (),
            || format!("a holds {pa}, b holds {pb} of {partitions}"),
        ))
    })
    .await?;
    let run_id = h.generate(4_000).await?;
    h.wait_receipts(run_id, 4_000, DRAIN, &a).await?;
    let applied_a = a.metric("processor_events_total{").await?;
    let applied_b = b.metric("processor_events_total{").await?;
    assert!(
        applied_a > 0.0 && applied_b > 0.0,
        "both instances applied events ({applied_a}, {applied_b})"
    );
    assert!(applied_a + applied_b >= 4_000.0);
    h.assert_converged(run_id, 4_000).await
}

/// `stack/down.sh PART` or `stack/up.sh`, quietly; fails when the script does.
fn stack_script(script: &str, args: &[&str]) -> anyhow::Result<()> {
    let path = format!("{}/../stack/{script}", env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new("bash")
        .arg(&path)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {path}"))?;
    anyhow::ensure!(status.success(), "{path} {args:?}: {status}");
    Ok(())
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn the_store_stopped_for_ten_seconds_mid_run_loses_nothing() -> anyhow::Result<()> {
    let h = Harness::new("outage").await?;
    anyhow::ensure!(
        h.env.store_is_local() || std::env::var_os("E2E_SKIP_STORE_OUTAGE").is_some(),
        "MONGODB_URI={} is not the local FerretDB, which this test stops and restarts: run the \
         tests against the local store, or set E2E_SKIP_STORE_OUTAGE=1 to skip this test",
        h.env.mongodb_uri
    );
    if !h.env.store_is_local() {
        eprintln!("SKIPPED (E2E_SKIP_STORE_OUTAGE is set): the store outage test");
        return Ok(());
    }
    let p = h.processor("a", &[])?;
    // 20 s of events: the store goes down while the run is still writing, so the processor
    // has work during the whole outage, on any machine.
    let run = h.start_rate_run(8_000, 400.0).await?;
    h.wait_receipts(run.run_id, 1_000, DRAIN, &p).await?;
    stack_script("down.sh", &["ferretdb"])?;
    let down_at = tokio::time::Instant::now();
    let (status, written) = h.run_status(run.run_id).await?;
    assert_eq!(
        status, "running",
        "the store went down after the run ended ({written} written): the outage proves nothing"
    );
    // Down for ten seconds, and until the processor has met the outage with a failed write.
    wait::until("a write retried during the outage", DRAIN, || async {
        let retries = p.metric("processor_store_retries_total").await?;
        let ten_s = down_at.elapsed() >= Duration::from_secs(10);
        Ok(Step::when(retries > 0.0 && ten_s, retries, || {
            format!("{retries} retries after {:?}", down_at.elapsed())
        }))
    })
    .await?;
    let mut p = p;
    assert!(
        p.child.try_wait()?.is_none(),
        "the processor exited during the outage:\n{}",
        p.log()
    );
    stack_script("up.sh", &[])?;
    run.call.await??;
    h.wait_receipts(run.run_id, 8_000, DRAIN, &p).await?;
    let log = p.log();
    assert!(
        log.contains("MongoDB store at 127.0.0.1:27017"),
        "the outage is logged with the address:\n{log}"
    );
    assert!(log.contains("is back"), "{log}");
    h.assert_converged(run.run_id, 8_000).await
}
