// `#[pg_test]`s, run by `cargo pgrx test` in a temporary cluster where the application's
// `activity.event_outbox` comes from the same `sql/outbox.sql` the stack applies. Included into
// `mod tests` of lib.rs (`#[pg_schema]` needs the module inline).

use pgrx::prelude::*;

pgrx::extension_sql_file!("../../sql/outbox.sql", name = "test_outbox");

pgrx::extension_sql!(
    r#"
-- Runs a statement and reports how it failed: 'SQLSTATE|detail|hint', or 'ok'.
CREATE FUNCTION outbox_demo_test_failure(statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_state text; v_detail text; v_hint text;
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_detail = PG_EXCEPTION_DETAIL,
                            v_hint = PG_EXCEPTION_HINT;
    RETURN v_state || '|' || coalesce(v_detail, '') || '|' || coalesce(v_hint, '');
END $$;
"#,
    name = "test_helpers",
    requires = ["test_outbox"]
);

fn one<T: FromDatum + IntoDatum>(sql: &str) -> T {
    Spi::get_one::<T>(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: NULL"))
}

fn outbox_rows() -> i64 {
    one("SELECT count(*) FROM activity.event_outbox")
}

fn runs() -> i64 {
    one("SELECT count(*) FROM outbox_demo.runs")
}

/// Asserts that `statement` fails with SQLSTATE `state`, a detail and a hint, and writes nothing.
fn assert_refused(statement: &str, state: &str) {
    let (events, manifest) = (outbox_rows(), runs());
    let report: String = Spi::get_one_with_args(
        "SELECT outbox_demo_test_failure($1)",
        &[statement.into()],
    )
    .expect("SPI")
    .expect("not null");
    let parts: Vec<&str> = report.splitn(3, '|').collect();
    assert_eq!(parts[0], state, "{statement}: {report}");
    assert!(parts.len() == 3 && !parts[1].is_empty(), "{statement}: no detail in {report}");
    assert!(!parts[2].is_empty(), "{statement}: no hint in {report}");
    assert_eq!(outbox_rows(), events, "{statement} wrote events");
    assert_eq!(runs(), manifest, "{statement} wrote a manifest row");
}

#[pg_test]
fn version_matches_the_installed_extension() {
    let from_sql: String = one("SELECT outbox_demo_version()");
    let catalog: String = one("SELECT extversion FROM pg_extension WHERE extname = 'outbox_demo'");
    assert_eq!(from_sql, env!("CARGO_PKG_VERSION"));
    assert_eq!(catalog, from_sql);
}

#[pg_test]
fn demo_generate_writes_the_run_it_returns_and_records_it() {
    let row: String = one(
        "SELECT concat_ws(',', run_id, users, activities, participants, total_events,
                          elapsed_ms > 0, events_per_sec > 0)
           FROM demo_generate(1000, seed => 7)",
    );
    let fields: Vec<&str> = row.split(',').collect();
    let run_id: i64 = fields[0].parse().expect("run_id");
    assert_eq!(fields[1..].join(","), "500,300,200,1000,t,t");
    // the outbox holds exactly that, seq dense from 1
    let by_type: String = one(&format!(
        "SELECT string_agg(event_type || '=' || c, ',' ORDER BY event_type) FROM
           (SELECT event_type, count(*) c FROM activity.event_outbox WHERE run_id = {run_id} GROUP BY 1) t"
    ));
    assert_eq!(by_type, "ActivityCreated=300,ParticipantJoined=200,UserCreated=500");
    let dense: bool = one(&format!(
        "SELECT min(seq) = 1 AND max(seq) = 1000 AND count(DISTINCT seq) = 1000
           FROM activity.event_outbox WHERE run_id = {run_id}"
    ));
    assert!(dense);
    // aggregate type and id follow the event type and payload
    let consistent: bool = one(&format!(
        "SELECT bool_and(CASE event_type
             WHEN 'UserCreated' THEN aggregate_type = 'user' AND aggregate_id = (payload->>'user_id')::uuid
             ELSE aggregate_type = 'activity' AND aggregate_id = (payload->>'activity_id')::uuid END
             AND scheduled_at IS NULL)
           FROM activity.event_outbox WHERE run_id = {run_id}"
    ));
    assert!(consistent);
    // ids are UUIDv7
    let v7: bool = one(&format!(
        "SELECT bool_and(substr(id::text, 15, 1) = '7') FROM activity.event_outbox WHERE run_id = {run_id}"
    ));
    assert!(v7);
    // the manifest says the same
    let manifest: String = one(&format!(
        "SELECT concat_ws(',', mode, status, n, seed, mix, written, users, activities, participants)
           FROM outbox_demo.runs WHERE run_id = {run_id}"
    ));
    assert_eq!(manifest, "bulk,completed,1000,7,50/30/20,1000,500,300,200");
}

#[pg_test]
fn every_reference_points_to_an_earlier_event() {
    let run_id: i64 = one("SELECT run_id FROM demo_generate(3000, mix => '30/30/40', seed => 3)");
    let broken: i64 = one(&format!(
        "WITH e AS (SELECT * FROM activity.event_outbox WHERE run_id = {run_id})
         SELECT count(*) FROM e WHERE
           (event_type = 'ActivityCreated' AND NOT EXISTS (
              SELECT FROM e u WHERE u.event_type = 'UserCreated'
                AND u.aggregate_id = (e.payload->>'organizer_id')::uuid AND u.seq < e.seq))
        OR (event_type = 'ParticipantJoined' AND NOT EXISTS (
              SELECT FROM e u WHERE u.event_type = 'UserCreated'
                AND u.aggregate_id = (e.payload->>'user_id')::uuid AND u.seq < e.seq))
        OR (event_type = 'ParticipantJoined' AND NOT EXISTS (
              SELECT FROM e a WHERE a.event_type = 'ActivityCreated'
                AND a.aggregate_id = e.aggregate_id AND a.seq < e.seq
                AND a.payload->>'organizer_id' <> e.payload->>'user_id'))"
    ));
    assert_eq!(broken, 0);
    let over_capacity: i64 = one(&format!(
        "SELECT count(*) FROM (
           SELECT a.aggregate_id, (a.payload->>'capacity')::int cap, count(p.*) joined,
                  count(DISTINCT p.payload->>'user_id') distinct_users
             FROM activity.event_outbox a
             JOIN activity.event_outbox p ON p.aggregate_id = a.aggregate_id
                  AND p.event_type = 'ParticipantJoined' AND p.run_id = {run_id}
            WHERE a.run_id = {run_id} AND a.event_type = 'ActivityCreated'
            GROUP BY 1, 2) t
         WHERE joined > cap OR joined <> distinct_users"
    ));
    assert_eq!(over_capacity, 0);
}

#[pg_test]
fn the_same_seed_writes_identical_payloads() {
    let a: i64 = one("SELECT run_id FROM demo_generate(500, seed => 42, batch_size => 7)");
    let b: i64 = one("SELECT run_id FROM demo_generate(500, seed => 42)");
    let c: i64 = one("SELECT run_id FROM demo_generate(500, seed => 43)");
    let differing = |x: i64, y: i64| -> i64 {
        one(&format!(
            "SELECT count(*) FROM activity.event_outbox p
               JOIN activity.event_outbox q ON q.run_id = {y} AND q.seq = p.seq
              WHERE p.run_id = {x}
                AND (p.payload <> q.payload OR p.event_type <> q.event_type
                     OR p.aggregate_id <> q.aggregate_id)"
        ))
    };
    assert_eq!(differing(a, b), 0, "same seed, different payloads");
    assert!(differing(a, c) > 0, "different seeds, same payloads");
}

#[pg_test]
fn reuse_entities_continues_earlier_runs() {
    let first: i64 = one("SELECT run_id FROM demo_generate(200, seed => 1)");
    let second: i64 = one(
        "SELECT run_id FROM demo_generate(300, mix => '0/20/80', seed => 2, reuse_entities => true)",
    );
    assert!(second > first);
    // every organiser and participant of the second run is a user of the first run
    let foreign: i64 = one(&format!(
        "SELECT count(*) FROM activity.event_outbox e WHERE e.run_id = {second}
            AND coalesce(e.payload->>'organizer_id', e.payload->>'user_id') IS NOT NULL
            AND NOT EXISTS (SELECT FROM activity.event_outbox u WHERE u.run_id = {first}
                  AND u.event_type = 'UserCreated'
                  AND u.aggregate_id::text = coalesce(e.payload->>'organizer_id', e.payload->>'user_id'))"
    ));
    assert_eq!(foreign, 0);
    let users_written: i64 = one(&format!(
        "SELECT count(*) FROM activity.event_outbox WHERE run_id = {second} AND event_type = 'UserCreated'"
    ));
    assert_eq!(users_written, 0, "the mix gives users no share");
    // a user joins an activity at most once, across runs too: observe mode finds a join by its
    // user in the activity's participants (docs/design.md, the projection contract)
    let joins_of_earlier: i64 = one(&format!(
        "SELECT count(*) FROM activity.event_outbox j WHERE j.run_id = {second}
            AND j.event_type = 'ParticipantJoined'
            AND EXISTS (SELECT FROM activity.event_outbox a WHERE a.run_id = {first}
                  AND a.event_type = 'ActivityCreated' AND a.aggregate_id = j.aggregate_id)"
    ));
    assert!(joins_of_earlier > 0, "the second run joined no activity of the first");
    let repeated: i64 = one(&format!(
        "SELECT count(*) FROM (SELECT FROM activity.event_outbox
            WHERE run_id IN ({first}, {second}) AND event_type = 'ParticipantJoined'
            GROUP BY aggregate_id, payload->>'user_id' HAVING count(*) > 1) r"
    ));
    assert_eq!(repeated, 0, "a user joined an activity twice");
}

#[pg_test]
fn bad_arguments_are_refused_with_22023_and_write_nothing() {
    for statement in [
        "SELECT * FROM demo_generate(0)",
        "SELECT * FROM demo_generate(-5)",
        "SELECT * FROM demo_generate(10, mix => '50/30')",
        "SELECT * FROM demo_generate(10, mix => '60/30/20')",
        "SELECT * FROM demo_generate(10, mix => 'a/b/c')",
        "SELECT * FROM demo_generate(10, mix => '0/50/50')",
        "SELECT * FROM demo_generate(10, mix => '50/0/50')",
        "SELECT * FROM demo_generate(10, batch_size => 0)",
        "SELECT * FROM demo_generate(10, batch_size => 100001)",
        "SELECT outbox_demo.run_begin(10, 0, 1, '50/30/20', NULL, false)",
        "SELECT outbox_demo.run_begin(10, -1, 1, '50/30/20', NULL, false)",
        "SELECT outbox_demo.run_begin(10, 'NaN', 1, '50/30/20', NULL, false)",
        "SELECT outbox_demo.run_begin(10, 'Infinity', 1, '50/30/20', NULL, false)",
        "SELECT outbox_demo.run_begin(10, 100, 0, '50/30/20', NULL, false)",
        "SELECT outbox_demo.run_begin(0, 100, 1, '50/30/20', NULL, false)",
        "SELECT outbox_demo.run_begin(10, 100, 1, '100/0', NULL, false)",
        "SELECT * FROM demo_reset()",
        "SELECT * FROM demo_reset(confirm => false)",
        "SELECT demo_stop(12345)",
    ] {
        assert_refused(statement, "22023");
    }
}

#[pg_test]
fn n_over_the_cap_is_refused() {
    Spi::run("SET outbox_demo.max_events = 100").expect("SET");
    assert_refused("SELECT * FROM demo_generate(101)", "22023");
    let written: i64 = one("SELECT total_events FROM demo_generate(100)");
    assert_eq!(written, 100);
}

#[pg_test]
fn a_rate_run_follows_its_schedule_exactly_and_records_its_lag() {
    // run_step is what CALL demo_run drives between COMMITs; a test runs in one transaction,
    // so it drives the steps itself.
    let run_id: i64 = one("SELECT outbox_demo.run_begin(20, 2000, 4, '50/30/20', 5, false)");
    let mut steps = 0;
    while !one::<bool>(&format!("SELECT outbox_demo.run_step({run_id})")) {
        steps += 1;
        assert!(steps < 1000, "the run does not end");
    }
    // 2000/s: scheduled_at 500 µs apart, exactly
    let gaps: String = one(&format!(
        "SELECT string_agg(DISTINCT (extract(epoch FROM scheduled_at - prev) * 1000000)::bigint::text, ',')
           FROM (SELECT scheduled_at, lag(scheduled_at) OVER (ORDER BY seq) prev
                   FROM activity.event_outbox WHERE run_id = {run_id}) t WHERE prev IS NOT NULL"
    ));
    assert_eq!(gaps, "500");
    let first_due: bool = one(&format!(
        "SELECT r.first_due_at = min(e.scheduled_at) AND r.started_at = r.first_due_at
           FROM outbox_demo.runs r
           JOIN activity.event_outbox e ON e.run_id = r.run_id WHERE r.run_id = {run_id}
          GROUP BY r.first_due_at, r.started_at"
    ));
    assert!(first_due);
    // no event went in before it was due
    let early: i64 = one(&format!(
        "SELECT count(*) FROM activity.event_outbox WHERE run_id = {run_id} AND created_at < scheduled_at"
    ));
    assert_eq!(early, 0);
    let manifest: String = one(&format!(
        "SELECT concat_ws(',', mode, status, written, txn_size, lag_p50_us IS NOT NULL,
                          lag_max_us >= lag_p99_us, lag_p99_us >= lag_p50_us)
           FROM outbox_demo.runs WHERE run_id = {run_id}"
    ));
    assert_eq!(manifest, "rate,completed,20,4,t,t,t");
}

#[pg_test]
fn demo_stop_ends_a_rate_run_with_a_consistent_partial_record() {
    let run_id: i64 = one("SELECT outbox_demo.run_begin(1000, 10000, 10, '50/30/20', 9, false)");
    for _ in 0..5 {
        assert!(!one::<bool>(&format!("SELECT outbox_demo.run_step({run_id})")));
    }
    let stopped: i64 = one(&format!("SELECT demo_stop({run_id})"));
    assert_eq!(stopped, 1);
    assert!(one::<bool>(&format!("SELECT outbox_demo.run_step({run_id})")));
    // the stop takes effect at the end of the next transaction at the latest
    let record: String = one(&format!(
        "SELECT concat_ws(',', r.status, r.written IN (50, 60),
                          r.written = (SELECT count(*) FROM activity.event_outbox e WHERE e.run_id = r.run_id),
                          r.written = r.users + r.activities + r.participants, r.finished_at IS NOT NULL)
           FROM outbox_demo.runs r WHERE r.run_id = {run_id}"
    ));
    assert_eq!(record, "stopped,t,t,t,t");
    // a run that is over has no step any more
    assert_refused(&format!("SELECT outbox_demo.run_step({run_id})"), "55000");
}

#[pg_test]
fn an_abandoned_rate_run_reads_interrupted_and_the_next_run_records_it() {
    Spi::run(
        "INSERT INTO outbox_demo.runs (mode, status, n, seed, mix, reuse_entities, rate, txn_size, progress_at)
         VALUES ('rate', 'running', 100, 1, '50/30/20', false, 10, 1, clock_timestamp() - interval '1 minute')",
    )
    .expect("insert");
    let status: String = one("SELECT status || ',' || (finished_at IS NOT NULL) FROM demo_status() LIMIT 1");
    assert_eq!(status, "interrupted,true");
    // demo_status() only read: the manifest still says running
    let recorded: String = one("SELECT status FROM outbox_demo.runs ORDER BY run_id LIMIT 1");
    assert_eq!(recorded, "running");
    // the next generator call records it
    let _: i64 = one("SELECT run_id FROM demo_generate(10)");
    let recorded: String = one(
        "SELECT status || ',' || (finished_at IS NOT NULL) || ',' || (error IS NOT NULL)
           FROM outbox_demo.runs ORDER BY run_id LIMIT 1",
    );
    assert_eq!(recorded, "interrupted,true,true");
}

#[pg_test]
fn demo_reset_deletes_demo_data_only() {
    Spi::run(
        "INSERT INTO activity.event_outbox (id, event_type, aggregate_type, aggregate_id, payload)
         VALUES (gen_random_uuid(), 'UserCreated', 'user', gen_random_uuid(), '{}')",
    )
    .expect("insert");
    let _: i64 = one("SELECT run_id FROM demo_generate(50)");
    let deleted: String =
        one("SELECT deleted_events || ',' || deleted_runs FROM demo_reset(confirm => true)");
    assert_eq!(deleted, "50,1");
    assert_eq!(outbox_rows(), 1, "the row of other code is kept");
    assert_eq!(runs(), 0);
}

/// `jsonb_in`'s bytes for `text` (varlena header included).
fn jsonb_in_bytes(text: &str) -> Vec<u8> {
    let cstr = std::ffi::CString::new(text).expect("no NUL in JSON text");
    // SAFETY: jsonb_in takes one cstring and returns a palloc'd, untoasted varlena.
    unsafe {
        let datum = pgrx::direct_function_call_as_datum(
            pg_sys::jsonb_in,
            &[Some(pg_sys::Datum::from(cstr.as_ptr()))],
        )
        .expect("jsonb_in returned NULL");
        let ptr = datum.cast_mut_ptr::<pg_sys::varlena>();
        std::slice::from_raw_parts(ptr.cast::<u8>(), pgrx::varlena::varsize_any(ptr)).to_vec()
    }
}

#[pg_test]
fn the_jsonb_encoder_writes_exactly_what_jsonb_in_writes() {
    use serde_json::json;
    let mut values = vec![
        json!({}),
        json!([]),
        json!({"a": 1}),
        json!({"n": 0, "m": -7, "big": 123_456_789_012_i64, "round": 10_000, "max": u64::MAX, "min": i64::MIN}),
        json!({"t": true, "f": false, "z": null, "s": "", "u": "Zoë Ångström ✓ 日本"}),
        json!({"nested": {"deeper": {"list": [1, "two", [3, {"four": 4}], null, true]}}, "e": [], "o": {}}),
        json!(["a", 1, [2, [3, [4]]], {"k": "v"}]),
        // more than JB_OFFSET_STRIDE (32) keys and elements: entries that hold offsets
        serde_json::Value::Object((0..70).map(|i| (format!("key{i:03}"), json!(i * 37))).collect()),
        serde_json::Value::Array((0..70).map(|i| json!(format!("item {i}"))).collect()),
    ];
    let mut generator = datagen::Generator::new(
        datagen::GeneratorConfig::new(3000, 11),
        datagen::World::empty(),
    )
    .expect("generator");
    for event in generator.by_ref() {
        let event = event.expect("event");
        values.push(serde_json::from_str(&event.payload.to_json()).expect("payload JSON"));
        // and what the writer really sends
        let ours = crate::writer::JsonbDatum::of(&event.payload);
        assert_eq!(ours.bytes(), jsonb_in_bytes(&event.payload.to_json()).as_slice());
    }
    for value in &values {
        let ours = outbox_logic::jsonb::encode(value).expect("encodable");
        assert_eq!(ours, jsonb_in_bytes(&value.to_string()), "{value}");
    }
}

#[pg_test]
fn event_ids_are_uuidv7_and_strictly_increasing() {
    let ids: Vec<uuid::Uuid> = (0..100_000).map(|_| crate::writer::event_id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids must strictly increase");
    assert!(ids.iter().all(|id| id.get_version_num() == 7 && id.get_variant() == uuid::Variant::RFC4122));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (secs, _) = ids[0].get_timestamp().expect("v7 timestamp").to_unix();
    assert!(now_ms / 1000 - secs < 10, "the timestamp is the current time");
}
