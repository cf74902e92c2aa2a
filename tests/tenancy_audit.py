"""Every query the application sends about a tenant's records names the tenant.

``conftest`` runs this around every test on the embedded engine: the driver's collection
methods are wrapped so that each call made by application code (``knowgap/``, ``achieveup/``;
not by tests, benchmarks or the migration, which reads every tenant on purpose) is checked:

* a filter on a collection of tenant records (``knowgap.migrate`` lists them all) must name
  ``canvas_host``, or an ``_id`` that starts with one (natural keys are "host|…");
* a document inserted into one must carry ``canvas_host``.

Lookups by identifiers that are unique across hosts by construction are allowed without the
host: a badge's hashed ``_id`` (its key includes the host) or random ``public_id``, the
issuer-wide status lists, accounts by ``_id`` or e-mail; so is the scheduler's look at the due
courses of every host (``EVERY_TENANT``). A test fails with every unscoped call
it made, naming the code that made it.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_DIRS = (str(ROOT / "knowgap") + "/", str(ROOT / "achieveup") + "/")
NOT_AUDITED = (str(ROOT / "knowgap" / "migrate.py"),)
#: Application functions that read every tenant on purpose.
EVERY_TENANT = {"due_courses",          # the scheduled refresh: due courses of every host
                "courses_due"}          # the xAPI retry timer: courses with work, every host
#: Helpers that pass on a filter someone else built: the caller is judged instead.
PASS_THROUGH = {"fetch_all", "find_one", "insert_new", "replace_many", "write_updates",
                "read", "read_one", "upsert", "replace_all"}
DRIVER = ("/mongomock/", "/pymongo/", str(ROOT / "knowgap" / "core" / "db.py"),
          str(ROOT / "knowgap" / "core" / "embedded_file.py"))
#: The embedded engine adapter's bulk functions (``knowgap.core.db``): (query argument index
#: or None, documents argument index or None).
ADAPTER = {"bulk_read": (1, None), "bulk_insert": (None, 1), "bulk_upsert": (None, 1),
           "bulk_replace": (1, 2)}
FILTERED = ("find", "find_one", "update_one", "update_many", "replace_one", "delete_one",
            "delete_many", "count_documents", "find_one_and_update", "distinct")
INSERTS = ("insert_one", "insert_many")
GLOBAL_KEYS = {"AchieveUp_Badges": {"_id", "public_id", "status_list"},
               "AchieveUp_Users": {"_id", "email_lower"}}


def tenant_collections() -> set[str]:
    """The migration's collections, and those written with ``canvas_host`` from the start
    (nothing to migrate: the tutor's and xAPI's)."""
    from knowgap import migrate
    from knowgap.tutor import store as tutor
    from knowgap.xapi import store as xapi_store

    names = {*migrate.REKEYED, migrate.BADGES, *migrate.STAMPED, *migrate.OWN_ORIGIN,
             *migrate.DROPPED, tutor.SESSIONS, tutor.MESSAGES, tutor.USAGE,
             *xapi_store.COLLECTIONS}
    return names - {"jobs"}               # the queue is shared; a job's host is on the job


def _caller(depth: int = 3) -> str | None:
    """``file:line`` of the application code behind this driver call, or None when the call
    comes from tests, benchmarks or the migration."""
    frame = sys._getframe(depth)      # the caller of the wrapper
    while frame is not None and any(part in frame.f_code.co_filename for part in DRIVER):
        frame = frame.f_back
    while frame is not None and frame.f_code.co_name in PASS_THROUGH \
            and frame.f_code.co_filename.startswith(APP_DIRS):
        frame = frame.f_back
    if frame is None:
        return None
    name = frame.f_code.co_filename
    if not name.startswith(APP_DIRS) or name in NOT_AUDITED \
            or frame.f_code.co_name in EVERY_TENANT:
        return None
    return f"{name[len(str(ROOT)) + 1:]}:{frame.f_lineno}"


def _host_key(value) -> bool:
    if isinstance(value, str):
        return "|" in value
    if isinstance(value, dict) and set(value) == {"$in"}:
        return all(_host_key(v) for v in value["$in"])
    return False


def _scoped(collection: str, query) -> bool:
    if not isinstance(query, dict):
        return False
    if "canvas_host" in query or _host_key(query.get("_id")):
        return True
    allowed = GLOBAL_KEYS.get(collection)
    if allowed and set(query) & allowed:
        return not (collection == "AchieveUp_Users" and "canvas_user_id" in query)
    return False


class Audit:
    def __init__(self):
        self.tenants = tenant_collections()
        self.problems: list[str] = []
        self._saved: dict = {}

    def _check(self, collection, method: str, args, kwargs, depth: int = 3) -> None:
        name = collection.name
        if name not in self.tenants:
            return
        where = _caller(depth)
        if where is None:
            return
        if method in INSERTS:
            docs = args[0] if args else kwargs.get("documents") or kwargs.get("document")
            docs = [docs] if method == "insert_one" else list(docs or [])
            for doc in docs:
                if name == "AchieveUp_Users" and "canvas_user_id" not in doc:
                    continue                  # an account without a Canvas identity yet
                if not isinstance(doc, dict) or not doc.get("canvas_host"):
                    self.problems.append(f"{where}: {method} into {name} without canvas_host")
            return
        query = args[0] if args else kwargs.get("filter", {})
        if method == "distinct":
            query = args[1] if len(args) > 1 else kwargs.get("filter", {})
        if not _scoped(name, query):
            self.problems.append(f"{where}: {method} on {name} without canvas_host: {query!r}"
                                 [:300])

    def _check_adapter(self, name: str, args) -> None:
        collection = args[0]
        query_at, docs_at = ADAPTER[name]
        if query_at is not None:
            self._check(collection, "find", (args[query_at],), {}, depth=4)
        if docs_at is not None:
            self._check(collection, "insert_many", (args[docs_at],), {}, depth=4)

    def start(self) -> None:
        from mongomock.collection import Collection

        from knowgap.core import db as dbmod

        # wrap the engine adapter's methods, never under them: stop() puts back what it found,
        # and the adapter (write lock, file journal) is installed once per process
        dbmod._make_embedded_writes_atomic()  # noqa: SLF001
        for name in ADAPTER:
            original = getattr(dbmod, name)
            self._saved[("adapter", name)] = original

            def adapted(*args, _n=name, _o=original, **kwargs):
                self._check_adapter(_n, args)
                return _o(*args, **kwargs)

            functools.update_wrapper(adapted, original)
            setattr(dbmod, name, adapted)

        for method in FILTERED + INSERTS:
            original = getattr(Collection, method)
            self._saved[method] = original

            def wrapper(collection, *args, _m=method, _o=original, **kwargs):
                self._check(collection, _m, args, kwargs)
                return _o(collection, *args, **kwargs)

            functools.update_wrapper(wrapper, original)
            setattr(Collection, method, wrapper)

    def stop(self) -> None:
        from mongomock.collection import Collection

        from knowgap.core import db as adapter

        for method, original in self._saved.items():
            if isinstance(method, tuple):
                setattr(adapter, method[1], original)
            else:
                setattr(Collection, method, original)
        self._saved.clear()
