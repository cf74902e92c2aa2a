"""The database handle: a real MongoDB through MONGODB_URI, or the in-process engine.

The in-process engine (mongomock) lets the service and its tests run with nothing installed;
it keeps data in memory only, which the start-up log says plainly.
"""
from __future__ import annotations

import logging
import threading
import time
from urllib.parse import parse_qsl, urlsplit

import pymongo
from pymongo.database import Database

from knowgap.core.indexes import INDEXES

log = logging.getLogger("knowgap.db")


_WRITE_METHODS = ("insert_one", "insert_many", "update_one", "update_many", "replace_one",
                  "delete_one", "delete_many", "find_one_and_update", "find_one_and_replace",
                  "find_one_and_delete", "bulk_write")
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
                return method(self, *args, **kwargs)
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


def connect(uri: str, db_name: str) -> Database:
    if not uri:
        import mongomock

        _make_embedded_writes_atomic()
        log.warning("MONGODB_URI is not set: using the embedded in-process database; "
                    "data is NOT persisted and is lost when the process stops.")
        return mongomock.MongoClient(tz_aware=True)[db_name]
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
