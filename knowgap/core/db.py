"""The database handle: a real MongoDB through MONGODB_URI, or the in-process engine.

The in-process engine (mongomock) lets the service and its tests run with nothing installed.
It keeps its data in memory; the server also keeps it in a file (``knowgap.core.embedded_file``),
tests and tools that open it without a directory do not. The start-up log says which.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import threading
import time
from urllib.parse import parse_qsl, urlsplit

import pymongo
from bson import ObjectId
from pymongo.database import Database

from knowgap.core import embedded_file
from knowgap.core.indexes import INDEXES

log = logging.getLogger("knowgap.db")


# ------------------------------------------------------------------ the embedded engine adapter
#
# The only code that patches or reaches into the embedded engine (mongomock). Everything else
# goes through ``achieveup.readmodel``'s bulk functions, which call :func:`bulk_read`,
# :func:`bulk_insert`, :func:`bulk_upsert` and :func:`bulk_replace` here: on MongoDB they are
# the ordinary pymongo calls; on the embedded engine they read and write its documents
# directly, because mongomock copies every document through BSON validation and a recursive
# rewrite on insert, filters by interpreting the query on every document, and re-slices its
# result list on every ``next()`` (quadratic). The fast paths keep the engine's own semantics:
# datetimes stored naive UTC at millisecond precision and read back timezone-aware, ``_id``
# unique, copies in and out (callers never share a stored document), and every write under the
# same lock as mongomock's own writes (``_embedded_write_lock``). Queries the fast read does not
# understand (anything but equality and ``$in`` on top-level fields) and collections with a
# unique index besides ``_id`` take mongomock's own path.

_WRITE_METHODS = ("insert_one", "insert_many", "update_one", "update_many", "replace_one",
                  "delete_one", "delete_many", "find_one_and_update", "find_one_and_replace",
                  "find_one_and_delete", "bulk_write",
                  "create_index", "drop_index", "drop")   # these three for the file's journal
_embedded_write_lock = threading.RLock()


def _make_embedded_writes_atomic() -> None:
    """Serialize the embedded engine's writes, as a real server applies each one atomically.

    mongomock reads then writes without a lock, so two threads could both claim one job or
    both pass a unique-index check; code that relies on MongoDB's per-document atomicity
    (job claims, badge awards, refresh-token rotation) must behave the same on both engines.
    """
    from mongomock.collection import Collection

    if getattr(Collection, "_knowgap_atomic", False):
        return

    def locked(method):
        def wrapper(self, *args, **kwargs):
            with _embedded_write_lock:
                return embedded_file.run_write(self, method.__name__, method, args, kwargs)
        wrapper.__name__ = method.__name__
        wrapper.__doc__ = method.__doc__
        return wrapper

    for name in _WRITE_METHODS:
        setattr(Collection, name, locked(getattr(Collection, name)))
    Collection._knowgap_atomic = True
    _accept_bulk_sort()


def _accept_bulk_sort() -> None:
    """pymongo 4.x passes ``sort`` (always None unless asked for) into bulk updates, which the
    embedded engine's builder does not know; accept it so ``bulk_write`` works on both."""
    from mongomock.collection import BulkOperationBuilder

    def without_sort(original):
        def method(self, *args, sort=None, **kwargs):
            if sort is not None:
                raise NotImplementedError("the embedded engine cannot sort bulk writes")
            return original(self, *args, **kwargs)
        return method

    for name in ("add_update", "add_replace"):
        setattr(BulkOperationBuilder, name, without_sort(getattr(BulkOperationBuilder, name)))


def _is_mongomock(collection) -> bool:
    return type(collection).__module__.startswith("mongomock")


_ATOMS = frozenset({str, int, float, bool, type(None), ObjectId, bytes})


def _to_stored(value):
    """A copy as the embedded engine stores it (naive UTC datetimes, millisecond precision)."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {k: v if type(v) in _ATOMS else _to_stored(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [v if type(v) in _ATOMS else _to_stored(v) for v in value]
    if isinstance(value, dt.datetime):
        return _stored_time(value)
    if isinstance(value, dict):
        return {k: _to_stored(v) for k, v in value.items()}
    return value


@functools.lru_cache(maxsize=4096)
def _stored_time(value: dt.datetime) -> dt.datetime:
    """(a sync writes the same few times on every one of its documents)"""
    if value.tzinfo is not None:
        value = (value - value.utcoffset()).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _from_stored(value):
    """A copy as the engine returns it (``tz_aware=True``: datetimes in UTC)."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {k: v if type(v) in _ATOMS else _from_stored(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _ATOMS else _from_stored(v) for v in value]
    if kind is dt.datetime:
        return _read_time(value)
    return value


@functools.lru_cache(maxsize=4096)
def _read_time(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.timezone.utc)


_KEYS = (str, int)


def _simple_matcher(query: dict):
    """A predicate for equality / ``$in`` with strings and integers on top-level fields, or None
    for any other query. A document whose field holds anything but a string or number (absent,
    null, an array, a subdocument) is judged by the engine's own filter."""
    from mongomock.filtering import filter_applies

    tests = []
    for field, cond in query.items():
        if not isinstance(field, str) or field.startswith("$") or "." in field:
            return None
        if isinstance(cond, dict):
            values = cond.get("$in") if set(cond) == {"$in"} else None
            if not isinstance(values, (list, tuple, set)) or not all(
                    isinstance(v, _KEYS) and not isinstance(v, bool) for v in values):
                return None
            tests.append((field, frozenset(values), True))
        elif isinstance(cond, (*_KEYS, ObjectId)) and not isinstance(cond, bool):
            tests.append((field, cond, False))
        else:
            return None

    def matches(doc: dict) -> bool:
        for field, wanted, is_in in tests:
            value = doc.get(field)
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                return filter_applies(query, doc)
            if isinstance(value, str):
                if (value not in wanted) if is_in else (value != wanted):
                    return False
            elif is_in:
                if not any(value == w for w in wanted if not isinstance(w, str)):
                    return False
            elif isinstance(wanted, str) or value != wanted:
                return False
        return True
    return matches


def _simple_projection(projection):
    """(included fields or None, excluded fields, keep ``_id``) or None when not simple."""
    if projection is None:
        return None, set(), True
    if not isinstance(projection, dict) or any("." in k or k.startswith("$") for k in projection):
        return False
    keep_id = bool(projection.get("_id", 1))
    rest = {k: v for k, v in projection.items() if k != "_id"}
    if rest and all(v in (1, True) for v in rest.values()):
        return set(rest), set(), keep_id
    if all(v in (0, False) for v in rest.values()):
        return None, set(rest), keep_id
    return False


def _projected(doc: dict, include, exclude, keep_id) -> dict:
    if include is not None:
        out = {k: _from_stored(doc[k]) for k in include if k in doc}
        if keep_id and "_id" in doc:
            out["_id"] = doc["_id"]
        return out
    return {k: _from_stored(v) for k, v in doc.items()
            if k not in exclude and (keep_id or k != "_id")}


def _unique_keys(collection):
    """The fields of each unique index besides ``_id`` as ``[(fields, sparse)]``, or None when
    one of them is beyond the fast writes (a partial index)."""
    out = []
    for name, info in collection.index_information().items():
        if name == "_id_" or not info.get("unique"):
            continue
        if info.get("partialFilterExpression") or any("." in k for k, _ in info["key"]):
            return None
        out.append(([k for k, _ in info["key"]], bool(info.get("sparse"))))
    return out


class _UniqueKeys:
    """The unique index keys of a collection's documents, checked as a batch is written (one
    pass over the collection per batch instead of one per document)."""

    def __init__(self, store, specs):
        self.specs = specs
        self.owners = [{} for _ in specs]
        if specs:
            for doc in store.documents:
                self.add(doc)

    def _key(self, doc, fields, sparse):
        if sparse and not any(f in doc for f in fields):
            return None
        key = tuple(doc.get(f) for f in fields)
        return key if all(type(v) in _ATOMS for v in key) else False

    def checkable(self, doc) -> bool:
        """False when a unique key of ``doc`` holds an array or subdocument (the engine's own
        path decides those)."""
        return all(self._key(doc, fields, sparse) is not False for fields, sparse in self.specs)

    def clashes(self, doc) -> bool:
        for (fields, sparse), owners in zip(self.specs, self.owners):
            key = self._key(doc, fields, sparse)
            if key is not None and owners.get(key, doc["_id"]) != doc["_id"]:
                return True
        return False

    def add(self, doc, replaced: dict | None = None) -> None:
        for (fields, sparse), owners in zip(self.specs, self.owners):
            if replaced is not None:
                old = self._key(replaced, fields, sparse)
                if old and owners.get(old) == replaced["_id"]:
                    del owners[old]
            key = self._key(doc, fields, sparse)
            if key:
                owners[key] = doc["_id"]


def bulk_read(collection, query: dict, projection: dict | None = None, sort=None) -> list[dict]:
    """Every matching document as a list (copies), in the engine's natural order or ``sort``."""
    if not _is_mongomock(collection):
        cursor = collection.find(query, projection)
        return list(cursor.sort(sort) if sort else cursor)
    matcher = _simple_matcher(query) if not sort else None
    shape = _simple_projection(projection)
    if matcher is None or shape is False:
        cursor = collection.find(query, projection)
        if sort:
            cursor = cursor.sort(sort)
        with _embedded_write_lock:
            return list(cursor._compute_results(with_limit_and_skip=True))  # noqa: SLF001
    include, exclude, keep_id = shape
    store = collection._store                                            # noqa: SLF001
    with _embedded_write_lock:
        the_id = query.get("_id")
        if isinstance(the_id, (str, ObjectId)):         # by primary key: one lookup
            doc = store[the_id] if the_id in store else None
            return [_projected(doc, include, exclude, keep_id)] \
                if doc is not None and matcher(doc) else []
        return [_projected(d, include, exclude, keep_id) for d in store.documents if matcher(d)]


def _fast_writes(collection, docs: list[dict]):
    """The unique keys to check when the embedded fast writes can take ``docs``, else None."""
    if not _is_mongomock(collection) or not all(isinstance(d.get("_id"), (str, ObjectId))
                                                for d in docs):
        return None
    specs = _unique_keys(collection)
    if specs is None:
        return None
    uniques = _UniqueKeys(collection._store, specs)                       # noqa: SLF001
    return uniques if all(uniques.checkable(d) for d in docs) else None


@contextlib.contextmanager
def _documents(collection):
    """The engine's own document map of ``collection``, held for writing (mongomock's
    readers iterate it under the same read-write lock)."""
    store = collection._store                                            # noqa: SLF001
    with store._rwlock.writer():                                         # noqa: SLF001
        yield store._documents                                           # noqa: SLF001


# The two writes the fast paths are made of. They run through ``embedded_file.run_write``
# under the names and parameters of the engine's own methods, so a persisted database
# journals them as the ``insert_many`` / ``delete_many`` calls they are equivalent to, and a
# replay runs the engine's own method.

def _fast_insert_many(collection, documents, ordered=True, bypass_document_validation=False,
                      session=None):
    """``insert_many`` of documents already checked to be new and free of unique clashes."""
    with _documents(collection) as stored:
        for doc in documents:
            stored[doc["_id"]] = _to_stored(doc)
    return pymongo.results.InsertManyResult([d["_id"] for d in documents], True)


def _fast_delete_many(collection, filter, collation=None, hint=None, session=None):  # noqa: A002
    """``delete_many`` of ``{"_id": {"$in": ids}}``."""
    with _documents(collection) as stored:
        deleted = sum(stored.pop(i, None) is not None for i in filter["_id"]["$in"])
    return pymongo.results.DeleteResult({"n": deleted, "ok": 1.0}, True)


def _plan_inserts(collection, docs: list[dict], uniques, *, replace: bool):
    """(documents to insert, ``_id``s that exist among them, ``_id``s refused): each ``_id``
    once (the last document wins when ``replace``), unique keys checked as if written in
    order."""
    stored = collection._store._documents                                # noqa: SLF001
    if replace:
        docs = list({d["_id"]: d for d in docs}.values())
    out, existing, refused, seen = [], [], [], set()
    for doc in docs:
        old = stored.get(doc["_id"])
        if doc["_id"] in seen or (old is not None and not replace) or uniques.clashes(doc):
            refused.append(doc["_id"])
            continue
        seen.add(doc["_id"])
        if old is not None:
            existing.append(doc["_id"])
        uniques.add(doc, old)
        out.append(doc)
    return out, existing, refused


def bulk_insert(collection, docs: list[dict]) -> tuple[int, list]:
    """Insert the documents whose ``_id`` is new; returns (inserted, ``_id``s that existed or
    clashed with a unique index)."""
    if not docs:
        return 0, []
    with _embedded_write_lock:
        uniques = _fast_writes(collection, docs)
        if uniques is not None:
            new, _, refused = _plan_inserts(collection, docs, uniques, replace=False)
            if new:
                embedded_file.run_write(collection, "insert_many", _fast_insert_many, (new,),
                                        {"ordered": True})
            return len(new), refused
    return _insert_new(collection, docs)


def _insert_new(collection, docs: list[dict]) -> tuple[int, list]:
    try:
        result = collection.insert_many(docs, ordered=False)
        return len(result.inserted_ids), []
    except pymongo.errors.BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        dups = [docs[e["index"]]["_id"] for e in errors if "index" in e]
        return exc.details.get("nInserted", len(docs) - len(dups)), dups
    except pymongo.errors.DuplicateKeyError:   # engines that stop at the first duplicate
        inserted, dups = 0, []
        for doc in docs:
            try:
                collection.insert_one(doc)
                inserted += 1
            except pymongo.errors.DuplicateKeyError:
                dups.append(doc["_id"])
        return inserted, dups


def bulk_upsert(collection, docs: list[dict]) -> int:
    """Replace each document by ``_id``, inserting the new ones."""
    if not docs:
        return 0
    if _is_mongomock(collection):
        with _embedded_write_lock:
            uniques = _fast_writes(collection, docs)
            if uniques is not None:
                write, existing, refused = _plan_inserts(collection, docs, uniques,
                                                         replace=True)
                if refused:
                    raise pymongo.errors.DuplicateKeyError(
                        f"E11000 duplicate key error: {refused[0]!r}", 11000)
                if existing:
                    embedded_file.run_write(collection, "delete_many", _fast_delete_many,
                                            ({"_id": {"$in": existing}},), {})
                embedded_file.run_write(collection, "insert_many", _fast_insert_many, (write,),
                                        {"ordered": True})
                return len(docs)
            for doc in docs:
                collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        return len(docs)
    collection.bulk_write([pymongo.ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs],
                          ordered=False)
    return len(docs)


def bulk_replace(collection, query: dict, docs: list[dict]) -> int:
    """Make ``docs`` the documents matching ``query`` (by ``_id``; the others are deleted).
    On the embedded engine readers never see it half done."""
    if _is_mongomock(collection):
        with _embedded_write_lock:
            collection.delete_many(query)
            if docs:
                inserted, dups = bulk_insert(collection, docs)
                if dups:
                    raise pymongo.errors.DuplicateKeyError(
                        f"E11000 duplicate key error: {dups[0]!r}", 11000)
        return len(docs)
    if docs:
        collection.bulk_write([pymongo.ReplaceOne({"_id": d["_id"]}, d, upsert=True)
                               for d in docs], ordered=False)
    collection.delete_many({**query, "_id": {"$nin": [d["_id"] for d in docs]}})
    return len(docs)


_CLIENT_DEFAULTS = {"serverSelectionTimeoutMS": 3000, "connectTimeoutMS": 3000,
                    "socketTimeoutMS": 20000, "retryWrites": True, "appname": "knowgap"}


def _client_defaults(uri: str) -> dict:
    """Our defaults for the options the URI does not set itself.

    pymongo lets keyword arguments override URI options, so passing the defaults blindly
    would silently ignore e.g. ``?serverSelectionTimeoutMS=300`` in MONGODB_URI.
    """
    query = urlsplit(uri).query if "?" in uri else ""
    given = {key.lower() for key, _ in parse_qsl(query, keep_blank_values=True)}
    return {k: v for k, v in _CLIENT_DEFAULTS.items() if k.lower() not in given}


def connect(uri: str, db_name: str, *, embedded_dir: str | None = None,
            embedded_max_mb: int = 512) -> Database:
    """``embedded_dir``: where the in-process engine keeps its file (None: memory only)."""
    if not uri:
        import mongomock

        _make_embedded_writes_atomic()
        database = mongomock.MongoClient(tz_aware=True)[db_name]
        if embedded_dir:
            embedded_file.open_file(database, embedded_dir, max_mb=embedded_max_mb)
        else:
            log.warning("MONGODB_URI is not set: using the embedded in-process database; "
                        "data is NOT persisted and is lost when the process stops.")
        return database
    client = pymongo.MongoClient(uri, tz_aware=True, **_client_defaults(uri))
    log.info("Using MongoDB database %r", db_name)
    return client[db_name]


def is_embedded(db: Database) -> bool:
    from knowgap.core.tenancy import unwrap

    return type(unwrap(db)).__module__.startswith("mongomock")


class IndexManager:
    """Creates the declared indexes, retrying later when the server was down at start-up.

    ``ensure()`` tries now (``/health`` calls it); ``ensure_due()`` is the cheap per-request
    hook: it does nothing once the indexes exist, and while they do not it retries at most
    every ``retry_seconds``, in one request at a time (others never wait for it).
    """

    def __init__(self, db: Database, retry_seconds: float = 10.0):
        self.db = db
        self.ready = False
        self.retry_seconds = retry_seconds
        self._last_attempt = 0.0
        self._lock = threading.Lock()

    def _create(self) -> bool:
        self._last_attempt = time.monotonic()
        try:
            for spec in INDEXES:
                self.db[spec.collection].create_index(spec.keys, **spec.options)
        except pymongo.errors.PyMongoError as exc:
            log.error("Could not create indexes yet (%s); will retry.", type(exc).__name__)
            return False
        self.ready = True
        log.info("Indexes are in place.")
        return True

    def ensure(self) -> bool:
        if self.ready:
            return True
        with self._lock:
            return self.ready or self._create()

    def ensure_due(self) -> bool:
        if self.ready:
            return True
        if time.monotonic() - self._last_attempt < self.retry_seconds:
            return False
        if not self._lock.acquire(blocking=False):
            return False
        try:
            return self.ready or self._create()
        finally:
            self._lock.release()


def ping(db: Database) -> bool:
    try:
        db.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
