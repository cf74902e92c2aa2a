"""Benchmark: server time of the badge pages (issue 19), on the analytics course.

Seeds the course of ``bench.analytics`` (1,000 students x 40 skills; its recompute awards about
100,000 badges) into the embedded database, lets 50 students share one badge each, then times
requests through ``app.test_client()`` (in process: the time is the server's):

* the badge page (Accept: text/html): template, the verification panel (sign the credential,
  verify it with openbadgeslib, rebuild and check the signed status list), lookups; 50 badges
  x 10 rounds once every page was shown once;
* the same URL as JSON (what a verifier gets), as the baseline of the same process;
* the profile page, the 404 page and the verification panel alone;
* "after a change": each page right after some badge was shared or unshared somewhere, which
  makes every process read the badge again instead of its cached copy (on the embedded engine
  a query scans the badge collection, see ``achieveup.badges.public``).

Target: page p95 < 100 ms. Run: ``.venv/bin/python -m bench.badge_pages`` (from the repository
root); ``--students 300`` for a smaller course.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SHARED = 50
ROUNDS = 10
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def timed(client, paths, headers=None, before=None, expect=200) -> list[float]:
    times = []
    for path in paths:
        if before:
            before()
        t = time.perf_counter()
        r = client.get(path, headers=headers or {})
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == expect, (path, r.status_code, r.get_data(as_text=True)[:300])
    return times


def line(name: str, times: list[float], extra: str = "") -> float:
    p95 = percentile(times, 0.95)
    print(f"{name}: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
          f"max {max(times):.1f} ms ({len(times)} requests){extra}")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    args = parser.parse_args()

    import bench.analytics as course
    from achieveup.badges import public, revisions, verification
    from achieveup.mastery import service as mastery
    from achieveup.mastery import store
    from knowgap import create_app
    from knowgap.canvas.hosts import default_host
    from knowgap.core import db as dbmod
    from knowgap.core.tenancy import scoped
    from tests.conftest import make_config

    course.N_STUDENTS = args.students
    config = make_config(log_level="ERROR")
    raw = dbmod.connect("", "bench_badges")
    app = create_app(config, db=raw)
    db = scoped(raw, default_host(config))          # the course's Canvas: the server's own
    t = time.perf_counter()
    course.seed(db)
    _, awarded = mastery.recompute_course(db, config, course.COURSE)
    total = db[store.BADGES].count_documents({})
    print(f"course: {args.students} students x {course.N_SKILLS} skills, {total:,} badges "
          f"({len(awarded):,} awarded by the recompute), seeded in "
          f"{time.perf_counter() - t:.1f} s")

    chosen = {}
    for doc in store.fetch_all(db[store.BADGES], {}, {"public_id": 1, "student_id": 1}):
        chosen.setdefault(doc["student_id"], doc["public_id"])
        if len(chosen) == SHARED:
            break
    with app.app_context():
        for student, public_id in chosen.items():
            public.set_public(db, config, public_id, {"canvas_user_id": student}, True)
    base = "/achieveup/public/badges"
    pages = [f"{base}/assertions/{pid}" for pid in chosen.values()]
    client = app.test_client()

    t = time.perf_counter()
    timed(client, pages, BROWSER)                    # first views: status positions, images
    print(f"first view of each of the {SHARED} shared badges: "
          f"{(time.perf_counter() - t) * 1000 / SHARED:.1f} ms on average")
    page_p95 = line("badge page (text/html)", timed(client, pages * ROUNDS, BROWSER),
                    " target p95 < 100 ms")
    json_p95 = line("same URL as JSON (verifiers, baseline)", timed(client, pages * ROUNDS))
    print(f"page / JSON at p95: {page_p95 / json_p95:.1f}x")
    profiles = [f"{base}/student/{s}" for s in chosen]
    timed(client, profiles, BROWSER)
    line("public profile page", timed(client, profiles * ROUNDS, BROWSER))
    unknown = [f"{base}/assertions/{'A' * 20}{i:02d}" for i in range(SHARED)]
    line("404 page (unknown id, first request)", timed(client, unknown, BROWSER, expect=404),
         f" (one query on {total:,} badges)")
    line("404 page (unknown id, again)", timed(client, unknown * 2, BROWSER, expect=404))

    def share_elsewhere():
        revisions.bump(db, revocation=False)

    print(f"right after a share or unshare anywhere (every process reads again; on the "
          f"embedded engine a query scans all {total:,} badges):")
    line("  badge page", timed(client, pages, BROWSER, before=share_elsewhere))
    line("  public profile page", timed(client, profiles, BROWSER, before=share_elsewhere))
    with app.app_context():
        docs = [public.find(db, pid) for pid in chosen.values()]
        times = []
        for doc in docs * 4:
            t = time.perf_counter()
            assert verification.panel(db, config, doc)["verified"]
            times.append((time.perf_counter() - t) * 1000)
    line("verification panel alone", times)


if __name__ == "__main__":
    main()
