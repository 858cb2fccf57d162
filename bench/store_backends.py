"""Processor-shaped write workload against MongoDB-compatible endpoints; prints docs/s and ratios.

Used by bench/store_backends.sh to choose FerretDB's backend. Each endpoint gets the same work,
in the shapes the event processor uses (docs/design.md, "MongoDB"):
  receipts      insert_many(ordered=False) of processed_events documents, batches of 500
  upserts       multi-statement `update` commands with upsert ($setOnInsert), batches of 500
  increments    multi-statement `update` commands ($inc + $addToSet) on existing documents
  point reads   find_one by _id
Usage: store_backends.py N NAME=URI [NAME=URI ...]   (the first NAME is the baseline)
Each request may take up to 300 s; a request that takes longer fails the run (a hung store).
"""

import random
import sys
import time
import uuid

from pymongo import MongoClient

BATCH = 500


def chunks(seq, size):
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def run(uri, n):
    client = MongoClient(uri, serverSelectionTimeoutMS=5000, socketTimeoutMS=300000)
    db = client["store_bench"]
    client.drop_database("store_bench")
    results = {}

    ids = [str(uuid.uuid4()) for _ in range(n)]
    receipts = [
        {"_id": i, "run_id": 1, "seq": k, "event_type": "UserCreated", "t0": k, "t0c": k,
         "t1": k, "t2": k, "t3": k, "t5": k, "partition": k % 3, "offset": k}
        for k, i in enumerate(ids)
    ]
    start = time.perf_counter()
    for batch in chunks(receipts, BATCH):
        db.processed_events.insert_many(batch, ordered=False)
    results["receipts"] = n / (time.perf_counter() - start)

    start = time.perf_counter()
    for batch in chunks(ids, BATCH):
        db.command({
            "update": "users",
            "updates": [{"q": {"_id": i}, "u": {"$setOnInsert": {"name": "User " + i, "city": "Lisbon"}},
                         "upsert": True} for i in batch],
            "ordered": False,
        })
    results["upserts"] = n / (time.perf_counter() - start)

    activities = ids[: max(1, n // 10)]
    db.statistics.insert_many([{"_id": a, "participant_count": 0, "participants": []} for a in activities])
    rng = random.Random(7)
    joins = [(rng.choice(activities), ids[k]) for k in range(n)]
    start = time.perf_counter()
    for batch in chunks(joins, BATCH):
        db.command({
            "update": "statistics",
            "updates": [{"q": {"_id": a}, "u": {"$inc": {"participant_count": 1}, "$addToSet": {"participants": u}}}
                        for a, u in batch],
            "ordered": False,
        })
    results["increments"] = n / (time.perf_counter() - start)

    reads = min(n, 2000)
    start = time.perf_counter()
    for i in rng.sample(ids, reads):
        assert db.processed_events.find_one({"_id": i}) is not None
    results["point reads"] = reads / (time.perf_counter() - start)

    assert db.processed_events.count_documents({}) == n
    assert sum(d["participant_count"] for d in db.statistics.find({})) == n
    client.drop_database("store_bench")
    return results


def main():
    n = int(sys.argv[1])
    endpoints = [arg.split("=", 1) for arg in sys.argv[2:]]
    table = {name: run(uri, n) for name, uri in endpoints}
    base = endpoints[0][0]
    names = [name for name, _ in endpoints]
    ratios = [f"{name}/{base}" for name in names[1:]]
    widths = [max(14, len(name) + 2) for name in names] + [max(10, len(r) + 2) for r in ratios]
    print(f"{'docs/s':<14}" + "".join(f"{h:>{w}}" for h, w in zip(names + ratios, widths)))
    for op in table[base]:
        cells = [f"{table[name][op]:,.0f}" for name in names]
        cells += [f"{table[name][op] / table[base][op]:.2f}" for name in names[1:]]
        print(f"{op:<14}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths)))

if __name__ == "__main__":
    main()
