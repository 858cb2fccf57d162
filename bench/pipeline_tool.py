"""Helpers of bench/processor.sh that talk to Kafka and MongoDB (confluent-kafka, pymongo).

  ends TOPIC                         print partition:end_offset,... of TOPIC
  commit-group GROUP TOPIC OFFSETS   commit partition:offset,... for a consumer group
  drop-db DB                         drop a MongoDB database
  wait-receipts DB N TIMEOUT_S       wait until DB.processed_events holds N documents; print
                                     the seconds waited
  store-alone DB N                   insert N receipt-shaped documents with insert_many(1000,
                                     unordered), then apply N/2 guarded upserts in update
                                     commands of 1000; print JSON rates
"""

import json
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition
import pymongo

BOOTSTRAP = "127.0.0.1:9092"
MONGO = "mongodb://127.0.0.1:27017/"


def ends(topic):
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "bench-tool"})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    out = []
    for p in sorted(parts):
        _, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        out.append(f"{p}:{high}")
    c.close()
    print(",".join(out))


def commit_group(group, topic, offsets):
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group, "enable.auto.commit": False})
    tps = [TopicPartition(topic, int(p), int(o)) for p, o in (x.split(":") for x in offsets.split(","))]
    c.commit(offsets=tps, asynchronous=False)
    c.close()


def wait_receipts(db, n, timeout):
    coll = pymongo.MongoClient(MONGO)[db]["processed_events"]
    start = time.monotonic()
    while True:
        have = coll.estimated_document_count()
        if have >= n:
            print(f"{time.monotonic() - start:.3f}")
            return
        if time.monotonic() - start > timeout:
            raise SystemExit(f"only {have} of {n} receipts in {db} after {timeout} s")
        time.sleep(0.2)


def store_alone(db, n):
    client = pymongo.MongoClient(MONGO)
    client.drop_database(db)
    coll = client[db]["receipts"]
    docs = [{"_id": str(uuid.uuid4()), "run_id": 1, "seq": i, "event_type": "UserCreated",
             "t_sched": None, "t0": i, "t0c": i, "t1": i, "t2": i, "t3": i, "t5": i,
             "partition": 0, "offset": i} for i in range(n)]
    t = time.monotonic()
    for i in range(0, n, 1000):
        coll.insert_many(docs[i:i + 1000], ordered=False)
    inserts = n / (time.monotonic() - t)
    stats = client[db]["statistics"]
    ids = [str(uuid.uuid4()) for _ in range(max(n // 20, 1))]
    stats.insert_many([{"_id": i, "participant_count": 0, "applied_events": []} for i in ids])
    k = n // 2
    stmts = [{"q": {"_id": ids[j % len(ids)], "applied_events": {"$ne": str(uuid.uuid4())}},
              "u": {"$inc": {"participant_count": 1}, "$push": {"applied_events": str(j)}},
              "upsert": True} for j in range(k)]
    t = time.monotonic()
    for i in range(0, k, 1000):
        client[db].command({"update": "statistics", "updates": stmts[i:i + 1000], "ordered": True})
    updates = k / (time.monotonic() - t)
    client.drop_database(db)
    print(json.dumps({"inserts_per_s": inserts, "guarded_updates_per_s": updates}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "ends":
        ends(*args)
    elif cmd == "commit-group":
        commit_group(*args)
    elif cmd == "drop-db":
        pymongo.MongoClient(MONGO).drop_database(args[0])
    elif cmd == "wait-receipts":
        wait_receipts(args[0], int(args[1]), float(args[2]))
    elif cmd == "store-alone":
        store_alone(args[0], int(args[1]))
    else:
        raise SystemExit(__doc__)
