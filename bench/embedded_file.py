"""Benchmark: what keeping the embedded database in a file costs (knowgap/core/embedded_file.py).

Prints:

1. per write, in memory vs in a file (same process, rounds alternating so both share the
   machine's load): insert_one into a collection without indexes (the engine's own cost is
   constant there, so the difference is the file's cost), then update_one by _id, upsert and
   find_one_and_update (a job claim) on those 500 documents with a unique index (the engine
   scans the collection for each); microseconds per write and the file/memory ratio;
2. the fsync that makes an answered request durable (once per request that wrote);
3. a big course, the ``bench.analytics`` one (1,000 students x 40 skills, 300 questions x 3
   attempts of evidence) with its mastery recomputed and badges awarded: the journal
   those writes made, the time the separate process takes to write a snapshot of everything
   and its size, and the start-up time: loading that snapshot, and loading it plus replaying a
   journal of 2,000 writes.

Run: ``.venv/bin/python -m bench.embedded_file`` (from the repository root).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N, ROUNDS = 500, 3
REPLAYED = 2000


def per_write(db) -> dict[str, float]:
    """Microseconds per write of each kind on a fresh collection of ``db``."""
    from pymongo import ReturnDocument

    collection = db[f"writes_{time.perf_counter_ns()}"]
    out = {}
    t = time.perf_counter()
    for i in range(N):
        collection.insert_one({"k": i, "state": "queued", "payload": "x" * 200, "n": 0})
    out["insert_one (no index: O(1))"] = time.perf_counter() - t
    collection.create_index([("k", 1)], unique=True)
    ids = [d["_id"] for d in collection.find({}, {"_id": 1})]
    t = time.perf_counter()
    for _id in ids:
        collection.update_one({"_id": _id}, {"$inc": {"n": 1}})
    out["update_one by _id"] = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(N):
        collection.update_one({"k": N + i}, {"$set": {"state": "new"}}, upsert=True)
    out["update_one upsert (insert)"] = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(N // 10):
        collection.find_one_and_update({"state": "queued"}, {"$set": {"state": "running"}},
                                       sort=[("k", 1)], return_document=ReturnDocument.AFTER)
    out["find_one_and_update (claim)"] = time.perf_counter() - t
    collection.drop()
    return {k: v / (N // 10 if "claim" in k else N) * 1e6 for k, v in out.items()}


def big_course(folder: str):
    """The bench.analytics course, recomputed, in a database kept in ``folder``."""
    from achieveup import pipeline
    from bench.analytics import COURSE, bench_config, bench_db, bench_sandbox, seed
    from knowgap import create_app

    with bench_sandbox() as sandbox:
        config = bench_config(sandbox)
        raw, db = bench_db(sandbox, "bench", folder)
        app = create_app(config, db=raw)
        t = time.perf_counter()
        seed(db)
        with app.app_context():
            _, awarded = pipeline.recompute(db, config, COURSE)
        return raw, time.perf_counter() - t, len(awarded)


def main():
    from achieveup.mastery import store
    from knowgap.core import db as dbmod
    from knowgap.core.embedded_file import close_file, file_of

    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-writes-") as folder:
        memory = dbmod.connect("", "bench_memory")
        kept = dbmod.connect("", "bench_file", embedded_dir=folder)
        rounds: dict[str, list[tuple[float, float]]] = {}
        for _ in range(ROUNDS):
            a, b = per_write(memory), per_write(kept)
            for kind in a:
                rounds.setdefault(kind, []).append((a[kind], b[kind]))
        print(f"per write ({N} writes of each kind, median of {ROUNDS} alternating rounds):")
        for kind, pairs in rounds.items():
            m = statistics.median(p[0] for p in pairs)
            f = statistics.median(p[1] for p in pairs)
            print(f"  {kind:<30} memory {m:8.0f} us   file {f:8.0f} us   "
                  f"file/memory {statistics.median(p[1] / p[0] for p in pairs):.2f}x")
        handle = file_of(kept)
        times = []
        for i in range(50):
            kept["fsync"].insert_one({"i": i})
            t = time.perf_counter()
            handle.sync()
            times.append((time.perf_counter() - t) * 1000)
        print(f"fsync before an answer (once per request that wrote): "
              f"p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms")
        close_file(kept)

    with tempfile.TemporaryDirectory(prefix="bench-course-") as folder:
        raw, seconds, awarded = big_course(folder)
        handle = file_of(raw)
        documents = sum(raw[name].count_documents({}) for name in raw.list_collection_names())
        print(f"big course: {documents:,} documents written in {seconds:.1f} s "
              f"({awarded:,} badges); journal {handle.journal_bytes / 2**20:.1f} MB")
        t = time.perf_counter()
        size = handle.compact()
        print(f"  snapshot of everything: {size / 2**20:.1f} MB written in "
              f"{time.perf_counter() - t:.2f} s by the separate process (writes go on)")
        close_file(raw)
        t = time.perf_counter()
        again = dbmod.connect("", "bench", embedded_dir=folder)
        print(f"  start-up from the snapshot: {time.perf_counter() - t:.2f} s")
        students = again[store.STUDENTS]
        ids = [d["_id"] for d in students.find({}, {"_id": 1})]
        for i in range(REPLAYED):
            students.update_one({"_id": ids[i % len(ids)]}, {"$set": {"touched": i}})
        journal = file_of(again).journal_bytes
        close_file(again)
        t = time.perf_counter()
        again = dbmod.connect("", "bench", embedded_dir=folder)
        print(f"  start-up from the snapshot + a journal of {REPLAYED:,} writes "
              f"({journal / 2**10:.0f} KB): {time.perf_counter() - t:.2f} s")
        close_file(again)


if __name__ == "__main__":
    main()
