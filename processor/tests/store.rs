//! The store on the real stack, written the way the processor writes it: the same statement
//! texts again and again (FerretDB's SQLite driver keeps each connection's prepared statements
//! for reuse: stack/ferretdb/patches, 0006), the collection dropped and made again under them,
//! duplicate keys, and a cursor left open while its documents are read again one by one.

use anyhow::Context as _;
use futures_util::TryStreamExt as _;
use mongodb::bson::{doc, Bson, Document};
use processor::store::Store;

/// Documents of each round, and joins sent to them (each twice, in one command).
const DOCS: i64 = 50;
const JOINS: i64 = 200;

/// The join `k` on document `c{k % DOCS}`: counted and recorded once, guarded like the
/// processor's joins (`processor/src/plan.rs`).
fn join(k: i64) -> Document {
    doc! {
        "q": { "_id": format!("c{}", k % DOCS), "applied": { "$ne": k } },
        "u": { "$inc": { "n": 1_i64 }, "$push": { "applied": k } },
    }
}

/// What every document must hold after the joins: each of its joins once, in order.
fn expected(i: i64) -> (i64, Vec<Bson>) {
    let applied: Vec<Bson> = (0..JOINS)
        .filter(|k| k % DOCS == i)
        .map(Bson::Int64)
        .collect();
    (applied.len() as i64, applied)
}

#[tokio::test]
#[ignore = "stack tier: needs the real stack (stack/up.sh); scripts/test.sh runs it with --include-ignored"]
async fn the_same_statements_again_and_again_give_the_same_answers() -> anyhow::Result<()> {
    let env = e2e::StackEnv::from_env()?;
    let db = env.mongodb().await?.database("e2e_store_statements");
    let store = Store::new(&env.mongodb_uri_for(db.name()), 3).await?;
    let coll = db.collection::<Document>("counters");
    for round in 0..3 {
        coll.drop().await.context("dropping counters")?;
        let docs: Vec<Document> = (0..DOCS)
            .map(|i| doc! { "_id": format!("c{i}"), "n": 0_i64, "applied": [] })
            .collect();
        assert!(store.insert("counters", &docs).await?.is_empty());
        let again = store.insert("counters", &docs).await?;
        let all: Vec<usize> = (0..DOCS as usize).collect();
        assert_eq!(
            again, all,
            "round {round}: every document again is a duplicate key"
        );
        for k in 0..JOINS {
            store
                .update_in_order("counters", &[join(k), join(k)])
                .await?;
        }

        // Two per batch, so the cursor stays open on the server while each one is read again.
        let mut cursor = coll
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .batch_size(2)
            .await?;
        let mut seen = 0;
        while let Some(d) = cursor.try_next().await? {
            let id = d.get_str("_id")?.to_owned();
            let again = coll.find_one(doc! { "_id": &id }).await?;
            assert_eq!(again.as_ref(), Some(&d), "round {round}: {id} read twice");
            let i: i64 = id.trim_start_matches('c').parse()?;
            let (n, applied) = expected(i);
            assert_eq!(d.get_i64("n")?, n, "round {round}: {id}'s count");
            assert_eq!(
                d.get_array("applied")?,
                &applied,
                "round {round}: {id}'s joins"
            );
            seen += 1;
        }
        assert_eq!(seen, DOCS, "round {round}: documents read back");
    }
    db.drop().await.context("dropping e2e_store_statements")?;
    Ok(())
}
