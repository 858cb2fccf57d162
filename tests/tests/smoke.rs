//! Smoke tests of the real local stack: PostgreSQL → Debezium → Kafka, the MongoDB-compatible
//! store, and the replication slot. Run by `scripts/test.sh` after `stack/up.sh`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use e2e::StackEnv;
use mongodb::bson::{doc, spec::BinarySubtype, Binary, Bson, DateTime, Document};
use rdkafka::Message;
use uuid::Uuid;

const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn an_outbox_insert_reaches_the_cdc_topic_within_10_seconds() -> anyhow::Result<()> {
    let env = StackEnv::from_env()?;
    let topic = env.cdc_topic.clone();
    let consumer = env.consumer_at_end(&topic)?;

    let pg = env.postgres().await?;
    let id = Uuid::now_v7();
    let user = Uuid::now_v7();
    let payload = serde_json::json!({
        "user_id": user, "name": "Smoke Test", "email": format!("smoke-{user}@example.org"),
        "city": "Lisbon",
    });
    let t0: i64 = pg
        .query_one(
            "INSERT INTO activity.event_outbox
                 (id, event_type, aggregate_type, aggregate_id, payload)
             VALUES ($1, 'UserCreated', 'user', $2, $3)
             RETURNING (extract(epoch FROM created_at) * 1000000)::bigint",
            &[&id, &user, &payload],
        )
        .await?
        .get(0);
    let inserted = Instant::now();

    loop {
        let left = KAFKA_TIMEOUT.saturating_sub(inserted.elapsed());
        let msg = match tokio::time::timeout(left, consumer.recv()).await {
            Err(_) => bail!("outbox row {id} did not appear on topic {topic} within 10 s"),
            Ok(msg) => msg.context("reading the CDC topic")?,
        };
        let envelope = events::decode_envelope(msg.payload())
            .with_context(|| format!("record at offset {} is not an envelope", msg.offset()))?;
        let row = envelope.after;
        if row.id != id {
            continue; // someone else's event
        }
        assert_eq!(
            msg.key(),
            Some(user.to_string().as_bytes()),
            "the record key is the row's aggregate_id"
        );
        assert_eq!(row.aggregate_id, user);
        assert_eq!(row.event_type, "UserCreated");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&row.payload)?,
            payload
        );
        assert_eq!(
            row.t0_us()?,
            t0,
            "created_at survives with its microseconds"
        );
        // source.ts_us (commit) and ts_us (Debezium's read) are present and in causal order on
        // this one machine's clock.
        let (t0c, t1) = (envelope.source.ts_us, envelope.ts_us);
        assert!(
            t0 <= t0c && t0c <= t1,
            "t0 {t0} <= t0c {t0c} <= t1 {t1} on one clock"
        );
        println!(
            "row {id}: commit {} µs after insert, read by Debezium {} µs after commit, seen here {} ms after insert",
            t0c - t0,
            t1 - t0c,
            inserted.elapsed().as_millis()
        );
        return Ok(());
    }
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn a_document_written_to_the_store_reads_back_identical() -> anyhow::Result<()> {
    let env = StackEnv::from_env()?;
    let client = env.mongodb().await?;
    let collection = client
        .database("e2e_smoke")
        .collection::<Document>(&format!("roundtrip_{}", Uuid::now_v7().simple()));

    let id = Uuid::now_v7();
    let written = doc! {
        "_id": id.to_string(),
        "name": "Zoë Ångström ✓",
        "int32": 42_i32,
        "int64": 1_i64 << 40,
        "double": 2.5,
        "bool": true,
        "nothing": Bson::Null,
        "when": DateTime::from_millis(1_795_816_353_212),
        "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: id.as_bytes().to_vec() },
        "tags": ["a", "b", "c"],
        "nested": { "participants": [1_i32, 2_i32], "organizer": { "city": "Porto" } },
    };
    collection
        .insert_one(&written)
        .await
        .with_context(|| format!("inserting into the store at {}", env.mongodb_uri))?;
    let read = collection
        .find_one(doc! { "_id": id.to_string() })
        .await?
        .context("the document written is not found")?;
    collection.drop().await?;
    assert_eq!(read, written);
    // same keys in the same order, not only equal as maps
    assert_eq!(
        read.keys().collect::<Vec<_>>(),
        written.keys().collect::<Vec<_>>()
    );
    Ok(())
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn the_replication_slot_is_active_and_decodes_pgoutput() -> anyhow::Result<()> {
    let env = StackEnv::from_env()?;
    let pg = env.postgres().await?;
    let row = pg
        .query_opt(
            "SELECT active, plugin::text, slot_type FROM pg_replication_slots WHERE slot_name = $1",
            &[&events::names::REPLICATION_SLOT],
        )
        .await?
        .with_context(|| {
            format!(
                "replication slot {} does not exist; is Kafka Connect up (stack/status.sh)?",
                events::names::REPLICATION_SLOT
            )
        })?;
    let (active, plugin, kind): (bool, String, String) = (row.get(0), row.get(1), row.get(2));
    assert!(
        active,
        "slot {} is not active",
        events::names::REPLICATION_SLOT
    );
    assert_eq!(plugin, "pgoutput");
    assert_eq!(kind, "logical");
    let wal_level: String = pg.query_one("SHOW wal_level", &[]).await?.get(0);
    assert_eq!(wal_level, "logical");
    Ok(())
}

/// The local stack's secrets: the two passwords generated for this install.
fn stack_secrets() -> anyhow::Result<(std::path::PathBuf, Vec<String>)> {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.stack"));
    let mut passwords = Vec::new();
    for role in ["app", "debezium"] {
        let file = dir.join("secrets").join(format!("{role}.password"));
        let pw = std::fs::read_to_string(&file)
            .with_context(|| format!("{}: stack/up.sh generates it", file.display()))?;
        anyhow::ensure!(pw.len() >= 16, "{} is too short", file.display());
        passwords.push(pw);
    }
    Ok((dir, passwords))
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn no_password_is_in_the_rest_api_a_readable_file_or_the_process_list() -> anyhow::Result<()>
{
    use std::os::unix::fs::PermissionsExt as _;
    let (stack, passwords) = stack_secrets()?;
    // Kafka Connect's REST API shows the file provider's placeholder, not the password.
    let connect = std::env::var("CONNECT_ADDR").unwrap_or_else(|_| "127.0.0.1:8083".into());
    let response = e2e::http_get(&connect, "/connectors/outbox-connector/config").await?;
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let config: serde_json::Value = serde_json::from_str(body).context("the connector's config")?;
    let shown = config["database.password"].as_str().unwrap_or("");
    assert!(
        shown.starts_with("${file:"),
        "database.password = {shown:?}"
    );
    // Rendered configs and secrets are their owner's only.
    for dir in ["conf", "secrets"] {
        for entry in std::fs::read_dir(stack.join(dir))? {
            let entry = entry?;
            let mode = entry.metadata()?.permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{} is mode {mode:o}",
                entry.path().display()
            );
        }
    }
    // No process shows a password on its command line.
    for proc in std::fs::read_dir("/proc")? {
        let cmdline = proc?.path().join("cmdline");
        let Ok(bytes) = std::fs::read(&cmdline) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        for pw in &passwords {
            assert!(
                !text.contains(pw.as_str()),
                "{} shows a password",
                cmdline.display()
            );
        }
    }
    Ok(())
}
