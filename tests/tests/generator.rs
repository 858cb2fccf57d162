//! The `outbox_demo` extension on the real stack: a large bulk run proven consistent by SQL over
//! the outbox, determinism across runs, and a rate run whose events carry an exact schedule and
//! reach Kafka through Debezium.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{bail, Context as _};
use e2e::StackEnv;
use rdkafka::Message;

/// `SELECT … FROM demo_generate(…)` as the returned row.
async fn generate(pg: &tokio_postgres::Client, call: &str) -> anyhow::Result<(i64, [i64; 3], i64)> {
    let row = pg
        .query_one(
            &format!("SELECT run_id, users, activities, participants, total_events FROM {call}"),
            &[],
        )
        .await
        .with_context(|| call.to_owned())?;
    Ok((row.get(0), [row.get(1), row.get(2), row.get(3)], row.get(4)))
}

/// Reads the CDC topic until `n` distinct seqs of `run_id` arrived (within 60 s), calling
/// `check` on each of the run's records. Debezium is at-least-once: a re-sent event is not a
/// generator failure (the verifier counts duplicates); what matters is that every seq arrives.
async fn run_seqs_on_topic(
    env: &StackEnv,
    consumer: &rdkafka::consumer::StreamConsumer,
    run_id: i64,
    n: i64,
    mut check: impl FnMut(
        &rdkafka::message::BorrowedMessage<'_>,
        &events::OutboxRow,
    ) -> anyhow::Result<()>,
) -> anyhow::Result<BTreeSet<i64>> {
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < n as usize {
        let msg = match tokio::time::timeout_at(deadline, consumer.recv()).await {
            Ok(msg) => msg?,
            Err(_) => bail!(
                "only {} of the {n} events of run {run_id} reached {} within 60 s",
                seen.len(),
                env.cdc_topic
            ),
        };
        let row = events::decode_envelope(msg.payload())?.after;
        if row.run_id == Some(run_id) {
            check(&msg, &row)?;
            seen.insert(row.seq.context("seq")?);
        }
    }
    Ok(seen)
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn a_100k_bulk_run_is_consistent_with_its_row_and_manifest() -> anyhow::Result<()> {
    // On two cores a rate run must not compete with Debezium draining a 100k bulk run.
    let _heavy = e2e::exclusive().await;
    let env = StackEnv::from_env()?;
    let pg = env.postgres().await?;
    let (run_id, counts, total) = generate(&pg, "demo_generate(100000)").await?;
    assert_eq!(total, 100_000);
    assert_eq!(counts, [50_000, 30_000, 20_000]);

    // counts per type in the outbox = the returned row = the manifest
    let row = pg
        .query_one(
            "SELECT count(*) FILTER (WHERE event_type = 'UserCreated'),
                    count(*) FILTER (WHERE event_type = 'ActivityCreated'),
                    count(*) FILTER (WHERE event_type = 'ParticipantJoined'),
                    count(*), min(seq), max(seq), count(DISTINCT seq)
               FROM activity.event_outbox WHERE run_id = $1",
            &[&run_id],
        )
        .await?;
    let outbox: Vec<i64> = (0..7).map(|i| row.get(i)).collect();
    assert_eq!(
        outbox,
        vec![50_000, 30_000, 20_000, 100_000, 1, 100_000, 100_000]
    );
    let manifest = pg
        .query_one(
            "SELECT users, activities, participants, written, n, status, mode
               FROM outbox_demo.runs WHERE run_id = $1",
            &[&run_id],
        )
        .await?;
    assert_eq!(
        (
            [manifest.get::<_, i64>(0), manifest.get(1), manifest.get(2)],
            manifest.get::<_, i64>(3),
            manifest.get::<_, i64>(4),
            manifest.get::<_, String>(5),
            manifest.get::<_, String>(6)
        ),
        (counts, 100_000, 100_000, "completed".into(), "bulk".into())
    );

    // every reference resolves to an earlier event of the run: the run's entities into temp
    // tables with statistics, so the checks below are hash joins, not per-row probes
    pg.batch_execute(&format!(
        "CREATE TEMP TABLE users AS SELECT aggregate_id AS id, seq FROM activity.event_outbox
           WHERE run_id = {run_id} AND event_type = 'UserCreated';
         CREATE TEMP TABLE acts AS SELECT aggregate_id AS id, seq,
                (payload->>'organizer_id')::uuid AS organizer, (payload->>'capacity')::int AS capacity
           FROM activity.event_outbox WHERE run_id = {run_id} AND event_type = 'ActivityCreated';
         CREATE TEMP TABLE joins AS SELECT aggregate_id AS activity,
                (payload->>'user_id')::uuid AS member, seq
           FROM activity.event_outbox WHERE run_id = {run_id} AND event_type = 'ParticipantJoined';
         ANALYZE users, acts, joins;"
    ))
    .await?;
    let broken: i64 = pg
        .query_one(
            "SELECT (SELECT count(*) FROM acts a LEFT JOIN users u ON u.id = a.organizer
                      WHERE u.id IS NULL OR u.seq > a.seq)
                  + (SELECT count(*) FROM joins j LEFT JOIN users u ON u.id = j.member
                      WHERE u.id IS NULL OR u.seq > j.seq)
                  + (SELECT count(*) FROM joins j LEFT JOIN acts a ON a.id = j.activity
                      WHERE a.id IS NULL OR a.seq > j.seq OR a.organizer = j.member)
                  + (SELECT count(*) FROM (SELECT activity, member FROM joins
                                           GROUP BY 1, 2 HAVING count(*) > 1) twice)
                  + (SELECT count(*) FROM (SELECT j.activity, a.capacity, count(*) AS n
                                             FROM joins j JOIN acts a ON a.id = j.activity
                                            GROUP BY 1, 2) c WHERE c.n > c.capacity)",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(
        broken, 0,
        "references that do not resolve to an earlier event"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn two_runs_with_the_same_seed_write_identical_payloads() -> anyhow::Result<()> {
    let env = StackEnv::from_env()?;
    let pg = env.postgres().await?;
    let seed = 20_261_127_i64;
    let (a, _, _) = generate(&pg, &format!("demo_generate(2000, seed => {seed})")).await?;
    let (b, _, _) = generate(
        &pg,
        &format!("demo_generate(2000, seed => {seed}, batch_size => 333)"),
    )
    .await?;
    let differing: i64 = pg
        .query_one(
            "SELECT count(*) FROM activity.event_outbox p
               FULL JOIN (SELECT * FROM activity.event_outbox WHERE run_id = $2) q ON q.seq = p.seq
              WHERE p.run_id = $1 AND (q.seq IS NULL OR p.payload::text <> q.payload::text
                                       OR p.event_type <> q.event_type)",
            &[&a, &b],
        )
        .await?
        .get(0);
    assert_eq!(differing, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn a_rate_run_keeps_an_exact_schedule_records_its_lag_and_reaches_kafka() -> anyhow::Result<()>
{
    const N: i64 = 10_000;
    const RATE: f64 = 1_000.0;
    // On two cores a rate run must not compete with Debezium draining a 100k bulk run.
    let _heavy = e2e::exclusive().await;
    let env = StackEnv::from_env()?;
    let consumer = env.consumer_at_end(&env.cdc_topic)?;
    let pg = env.postgres().await?;
    let before = e2e::max_run_id(&pg).await?;

    pg.simple_query(&format!("CALL demo_run({N}, rate => {RATE})"))
        .await
        .context("CALL demo_run")?;
    let run = pg
        .query_one(
            "SELECT run_id, status, written, lag_p50_us, lag_p99_us, lag_max_us, lag_over_10ms,
                    elapsed_ms, started_at = first_due_at,
                    (extract(epoch FROM finished_at - first_due_at) * 1000)::float8
               FROM outbox_demo.runs WHERE mode = 'rate' AND run_id > $1 ORDER BY run_id LIMIT 1",
            &[&before],
        )
        .await?;
    let run_id: i64 = run.get(0);
    assert_eq!(run.get::<_, String>(1), "completed");
    assert_eq!(run.get::<_, i64>(2), N);
    let (p50, p99, max): (i64, i64, i64) = (run.get(3), run.get(4), run.get(5));
    assert!(
        0 < p50 && p50 <= p99 && p99 <= max,
        "lag {p50} / {p99} / {max} µs"
    );
    // A rate run is measured from the origin of its schedule: one value, not two clock reads.
    assert!(run.get::<_, bool>(8), "started_at is first_due_at");
    let (elapsed_ms, schedule_ms): (f64, f64) = (run.get(7), run.get(9));
    assert_eq!(elapsed_ms, schedule_ms, "elapsed_ms runs from first_due_at");
    // Open loop: the last event is due (N − 1) / RATE after the first; the run cannot end
    // before it, whatever the machine's pace.
    let last_due_ms = (N - 1) as f64 * 1_000.0 / RATE;
    assert!(
        elapsed_ms >= last_due_ms,
        "ran {elapsed_ms} ms, the last event was due at {last_due_ms} ms"
    );
    println!(
        "rate run {run_id}: {N} events at {RATE}/s in {elapsed_ms:.0} ms; generator lag p50 {p50} µs, p99 {p99} µs, max {max} µs, {} events over 10 ms late",
        run.get::<_, i64>(6)
    );

    // scheduled_at is exactly 1 ms apart, and nothing went in before it was due
    let row = pg
        .query_one(
            "SELECT count(DISTINCT gap), min(gap), max(gap),
                    count(*) FILTER (WHERE created_at < scheduled_at)
               FROM (SELECT created_at, scheduled_at,
                            (extract(epoch FROM scheduled_at - lag(scheduled_at) OVER (ORDER BY seq))
                             * 1000000)::bigint AS gap
                       FROM activity.event_outbox WHERE run_id = $1) t
              WHERE gap IS NOT NULL",
            &[&run_id],
        )
        .await?;
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
            row.get::<_, i64>(3)
        ),
        (1, 1_000, 1_000, 0)
    );

    // every event of the run arrives on the CDC topic
    let seen = run_seqs_on_topic(&env, &consumer, run_id, N, |_, row| {
        assert!(
            row.t_sched_us()?.is_some(),
            "scheduled_at travels with the event"
        );
        Ok(())
    })
    .await?;
    assert_eq!(seen.first(), Some(&1));
    assert_eq!(seen.last(), Some(&N));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn every_event_of_demo_generate_10000_appears_on_the_cdc_topic() -> anyhow::Result<()> {
    // On two cores a rate run must not compete with Debezium draining a 100k bulk run.
    let _heavy = e2e::exclusive().await;
    let env = StackEnv::from_env()?;
    let consumer = env.consumer_at_end(&env.cdc_topic)?;
    let pg = env.postgres().await?;
    let (run_id, _, total) = generate(&pg, "demo_generate(10000)").await?;
    assert_eq!(total, 10_000);

    let seen = run_seqs_on_topic(&env, &consumer, run_id, 10_000, |msg, row| {
        // the key is the aggregate, so one aggregate's events share a partition, in order
        assert_eq!(msg.key(), Some(row.aggregate_id.to_string().as_bytes()));
        Ok(())
    })
    .await?;
    assert_eq!((seen.first(), seen.last()), (Some(&1), Some(&10_000)));
    Ok(())
}
