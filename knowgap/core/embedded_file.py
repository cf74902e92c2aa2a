"""The embedded database's file: a snapshot plus a journal of writes, in one directory.

With no ``MONGODB_URI`` the service runs on the in-process engine; this module keeps that
engine's data across restarts (README, "The embedded database file").

Files, for database ``knowgap`` in ``EMBEDDED_DB_DIR`` (``instance/`` by default):

* ``knowgap.snapshot``: every collection's indexes and documents, BSON. Written to a temporary
  file, fsync'd, then renamed over the old one (``os.replace``), so a crash while writing it
  leaves the previous snapshot in place.
* ``knowgap.journal-<g>``: the writes made since snapshot generation ``g``, one record per
  write: 4-byte length, 4-byte CRC-32, then the BSON of the call (collection, method, its
  arguments, the time). A record is appended with a single ``write()`` while the write still
  holds the engine's write lock, so records are in the order the writes were applied.
* ``knowgap.lock``: an exclusive ``flock`` held by the one process that owns the files.

Durability: a write's record reaches the operating system before the write returns, so a
killed process (``kill -9``) loses nothing that any caller was told. Before any HTTP response
leaves, the journal is fsync'd if it holds anything not yet on disk (one fsync serves every
request waiting for it), so an answered request also survives a power loss; writes made
outside a request (the job worker) reach the disk within ``SYNC_SECONDS``.

Start-up loads the snapshot, creates its indexes (unique ones hold again, the engine checks
them on load), then replays the journals by calling the same collection methods with the
same arguments. Replays must land where the original writes landed, so everything the engine
would decide on its own is decided before a record is written: new ``_id``\\s are assigned
before inserting (as pymongo does) and upserted ``_id``\\s are written into the recorded
filter; ``find_one_and_*`` is recorded as the single-document write it became; documents a
TTL index expired before a write are expired again before its replay. A torn last record (the
process died inside ``write()``) is cut off: its write never returned.

When the journal outgrows the snapshot (and ``COMPACT_MIN_BYTES``), this process starts the next
journal and a separate process (``python -m knowgap.core.embedded_file``) folds the snapshot and
the closed journals into a new snapshot: it loads them into its own engine, writes
``<name>.snapshot.tmp``, fsyncs it, renames it over the old one and removes the journals it
folded in. This process neither pauses its writes nor spends its time on it. Start-up replays
every journal not older than the snapshot it loaded, so a crash at any point leaves a
loadable state; it waits for a snapshot still being written by a previous process's folder.

``bulk_write`` is refused on a persisted database: its requests cannot be read back through
the driver's public interface, and the application writes document by document on this engine.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import inspect
import logging
import os
import re
import struct
import subprocess
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import bson
from bson.codec_options import CodecOptions
from pymongo.errors import PyMongoError

log = logging.getLogger("knowgap.db")
ROOT = Path(__file__).resolve().parent.parent.parent

FORMAT, VERSION = "knowgap-embedded-db", 1
#: The engine keeps dates as naive UTC: decode them that way (it would convert them anyway).
CODEC = CodecOptions(document_class=dict, tz_aware=False)
RECORD_HEADER = struct.Struct("<II")          # length of the BSON body, its CRC-32
#: A snapshot is written once the journal is larger than both this and the snapshot.
COMPACT_MIN_BYTES = 16 * 1024 * 1024
SYNC_SECONDS = 1.0
JOURNAL_NAME = re.compile(r"\.journal-(\d+)$")
#: Writes whose failure can leave part of their work done: recorded even when they raise.
MULTI = frozenset({"insert_many", "update_many", "delete_many"})

_open_files: dict[tuple[int, str], "EmbeddedFile"] = {}
_open_files_lock = threading.Lock()


class EmbeddedFileError(RuntimeError):
    """The database file cannot be used (busy, unreadable, or an unsupported write)."""


@dataclass
class LoadReport:
    documents: int = 0
    collections: int = 0
    snapshot_bytes: int = 0
    journal_bytes: int = 0
    replayed: int = 0
    seconds: float = 0.0


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _record(body: dict) -> bytes:
    data = bson.encode(body)
    return RECORD_HEADER.pack(len(data), zlib.crc32(data)) + data


def _read_records(data: bytes):
    """(offset after the record, record) for each whole record; stops at a torn tail."""
    at = 0
    while at + RECORD_HEADER.size <= len(data):
        size, crc = RECORD_HEADER.unpack_from(data, at)
        start, end = at + RECORD_HEADER.size, at + RECORD_HEADER.size + size
        if end > len(data) or zlib.crc32(data[start:end]) != crc:
            return
        yield end, bson.decode(data[start:end], CODEC)
        at = end


def _with_id(query: dict, _id) -> dict:
    """The filter an upsert is replayed with: it can only insert the document it inserted."""
    return query if query.get("_id") == _id else {**query, "_id": _id}


def _index_args(spec: dict) -> tuple[list, dict]:
    keys = [tuple(pair) for pair in spec["key"]]
    options = {k: v for k, v in spec.items() if k not in ("key", "v", "ns")}
    return keys, options


class EmbeddedFile:
    """Keeps one in-process database in ``directory``; see the module docstring."""

    def __init__(self, db, directory: str | os.PathLike, *, max_bytes: int,
                 compact_min_bytes: int = COMPACT_MIN_BYTES):
        self.db = db
        self.directory = Path(directory).resolve()
        self.max_bytes = max_bytes
        self.compact_min_bytes = compact_min_bytes
        name = db.name
        self.snapshot_path = self.directory / f"{name}.snapshot"
        self.lock_path = self.directory / f"{name}.lock"
        self.compact_lock_path = self.directory / f"{name}.compact.lock"
        self._lock = threading.RLock()       # held from a write's start to its record
        self._sync_lock = threading.Lock()
        self._depth = 0                      # > 0 inside a recorded write (nested calls)
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self.generation = 0
        self.snapshot_bytes = 0
        self._journal_size = 0               # bytes in the current journal
        self._written = 0                    # bytes appended since start (every journal)
        self._synced = 0                     # of which known to be on disk
        self._pending: dict[str, dict[str, tuple]] = {}   # indexes, while loading
        self._parameters: dict[str, list[str]] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._compacting = threading.Lock()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ open and close
    def open(self) -> LoadReport:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            fd = os.open(self.compact_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)      # a snapshot still being written: let it finish
            os.close(fd)
            report = self._load()
            self._open_journal(self.generation)
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._background, daemon=True,
                                        name="embedded-db-file")
        self._thread.start()
        return report

    def close(self) -> None:
        """Sync and release the files (tests and tools; a server just exits)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=60)
        with self._lock, self._sync_lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)            # releases the flock
            self._lock_fd = None

    def _take_lock(self) -> None:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            message = (f"The embedded database file {self.snapshot_path} is in use by process "
                       f"{holder}: the embedded engine serves one process. Run a single "
                       f"gunicorn worker (WEB_CONCURRENCY=1), stop the other server, or set "
                       f"MONGODB_URI.")
            log.error(message)
            raise EmbeddedFileError(message)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    # ------------------------------------------------------------------ loading
    def _journals(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob(f"{self.db.name}.journal-*"):
            match = JOURNAL_NAME.search(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def _load(self, up_to: int | None = None) -> LoadReport:
        """The snapshot, then every journal from its generation on (to ``up_to``)."""
        report, started = LoadReport(), time.perf_counter()
        if self.snapshot_path.exists():
            data = self.snapshot_path.read_bytes()
            report.snapshot_bytes = self.snapshot_bytes = len(data)
            try:
                docs = bson.decode_all(data, CODEC)
            except bson.errors.BSONError as exc:
                raise EmbeddedFileError(f"The embedded database file {self.snapshot_path} "
                                        f"cannot be read ({exc}).") from exc
            header = docs[0] if docs else {}
            if header.get("format") != FORMAT or header.get("version") != VERSION:
                raise EmbeddedFileError(f"{self.snapshot_path} is not a database file of "
                                        f"this version ({FORMAT} {VERSION}).")
            self.generation = header["generation"]
            at = 1
            for section in header["collections"]:
                collection = self.db[section["name"]]
                rows = docs[at:at + section["count"]]
                at += section["count"]
                if len(rows) != section["count"]:
                    raise EmbeddedFileError(f"{self.snapshot_path} is incomplete.")
                if rows:
                    collection.insert_many(rows)
                for spec in section["indexes"]:
                    self._create_index(collection, *_index_args(spec))
                report.documents += len(rows)
                report.collections += 1
        for generation, path in self._journals():
            if generation < self.generation:
                path.unlink()                   # already inside the snapshot
                continue
            if up_to is not None and generation > up_to:
                break
            self.generation = generation
            replayed, size = self._replay(path)
            report.replayed += replayed
            report.journal_bytes += size
        for name in list(self._pending):
            self._create_pending(name)
        report.seconds = time.perf_counter() - started
        return report

    def _create_index(self, collection, keys: list, options: dict) -> None:
        """Indexes are created once the journal is replayed: every write it holds succeeded
        with them (one that failed is marked and gets them first, see ``_apply``), and without
        them the engine does not search the collection for duplicates on every insert. TTL
        indexes must wait anyway: they expire documents by the journal's clock until then."""
        name = options.get("name") or "_".join(f"{k}_{d}" for k, d in keys)
        self._pending.setdefault(collection.name, {})[name] = (keys, options)

    def _create_pending(self, name: str, ttl: bool = True) -> None:
        pending = self._pending.get(name, {})
        for index, (keys, options) in list(pending.items()):
            if ttl or options.get("expireAfterSeconds") is None:
                self.db[name].create_index(keys, **options)
                del pending[index]

    def _replay(self, path: Path) -> tuple[int, int]:
        data = path.read_bytes()
        count, good = 0, 0
        for good, record in _read_records(data):
            self._apply(record)
            count += 1
        cut = len(data) - good
        if cut:
            log.warning("The embedded database journal %s ends in an incomplete record "
                        "(%d bytes; a write that never returned): it is cut off.", path, cut)
            with open(path, "r+b") as fh:
                fh.truncate(good)
                os.fsync(fh.fileno())
        return count, good

    def _apply(self, record: dict) -> None:
        collection = self.db[record["c"]]
        pending = self._pending.get(record["c"], {})
        for keys, options in list(pending.values()):
            if options.get("expireAfterSeconds") is None or len(keys) != 1:
                continue                        # the engine expires by single-field indexes
            # the engine expired these when the write first ran (its TTL acts on each access)
            limit = record["t"] - dt.timedelta(seconds=options["expireAfterSeconds"])
            collection.delete_many({keys[0][0]: {"$lte": limit}})
        method, args = record["m"], record["a"]
        if method == "create_index":
            self._create_index(collection, [tuple(pair) for pair in args.pop("keys")], args)
            return
        if method == "drop_index" and args.get("index_or_name") in pending:
            del pending[args["index_or_name"]]
            return
        if method == "drop":
            self._pending.pop(record["c"], None)
        if record.get("e"):
            self._create_pending(record["c"], ttl=False)   # it failed, maybe on a unique index
        try:
            getattr(collection, method)(**args)
        except PyMongoError:
            pass                                # the same error the write met the first time

    # ------------------------------------------------------------------ recording writes
    def _open_journal(self, generation: int) -> None:
        path = self.directory / f"{self.db.name}.journal-{generation}"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        _fsync_dir(self.directory)
        with self._sync_lock:                  # not while a sync() fsyncs the old one
            old, self._fd = self._fd, fd
            if old is not None:
                os.fsync(old)
                os.close(old)
            self._synced = self._written
        self.generation = generation
        self._journal_size = os.fstat(fd).st_size

    def _arguments(self, name: str, method, args: tuple, kwargs: dict) -> dict:
        """The call's arguments by parameter name (what the replay passes back)."""
        names = self._parameters.get(name)
        if names is None:
            names = self._parameters[name] = [
                p.name for p in list(inspect.signature(method).parameters.values())[1:]
                if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        if len(args) > len(names):
            raise TypeError(f"{name}() got {len(args)} positional arguments")
        out = dict(zip(names, args))
        for key, value in kwargs.items():
            if key in out:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            out[key] = value
        return {key: value for key, value in out.items() if value is not None}

    def write(self, collection, name: str, method, args: tuple, kwargs: dict):
        """Run one write of the engine (``method`` unbound) and record it."""
        with self._lock:
            if self._depth:                    # a write made by the recorded write itself
                return method(collection, *args, **kwargs)
            self._depth += 1
            try:
                return self._recorded(collection, name, method, args, kwargs)
            finally:
                self._depth -= 1

    def _recorded(self, collection, name, method, args, kwargs):  # noqa: C901 - one per kind
        call = self._arguments(name, method, args, kwargs)
        if name == "bulk_write":
            raise EmbeddedFileError("bulk_write is not supported on the persisted embedded "
                                    "database; write document by document (README).")
        if name == "insert_one":
            if "_id" not in call["document"]:
                call["document"]["_id"] = bson.ObjectId()
        elif name == "insert_many":
            call["documents"] = list(call["documents"])
            for doc in call["documents"]:
                if isinstance(doc, dict) and "_id" not in doc:
                    doc["_id"] = bson.ObjectId()
            args, kwargs = (), call
        elif name.startswith("find_one_and_"):
            return self._find_and_modify(collection, name, method, call)
        elif name == "create_index":
            before = collection.index_information()
            result = method(collection, *args, **kwargs)
            if result not in before:
                keys = call["key_or_list"]
                keys = [(keys, 1)] if isinstance(keys, str) else list(keys)
                options = {k: v for k, v in call.items()
                           if k not in ("key_or_list", "cache_for", "session")}
                self._append(collection.name, "create_index", {"keys": keys, **options})
            return result
        body = {"c": collection.name, "m": name, "a": call, "t": _utcnow()}
        record = _record(body)                 # before the write: an invalid one changes nothing
        try:
            result = method(collection, *args, **kwargs)
        except Exception:
            if name in MULTI:                  # part of it may be done: replayed, to fail again
                body["e"] = True
                self._write(_record(body))
            raise
        upserted = getattr(result, "upserted_id", None)
        if upserted is not None:
            call["filter"] = _with_id(call["filter"], upserted)
            record = _record(body)
        elif name in ("update_one", "update_many", "replace_one") and not result.modified_count:
            return result
        elif name in ("delete_one", "delete_many") and not result.deleted_count:
            return result
        self._write(record)
        return result

    def _find_and_modify(self, collection, name, method, call):
        """Recorded as the single-document write it turns into: the filter narrowed to the
        ``_id`` of the document it wrote (read from its answer when the answer has one)."""
        query, projection = call["filter"], call.get("projection")
        target, no_id = None, isinstance(projection, dict) and not projection.get("_id", True)
        if no_id:
            # without the _id in its answer the engine writes the first document matched
            found = collection.find_one(query, {"_id": 1})
            target = found["_id"] if found else None
        result = method(collection, **call)
        if target is None and result is not None and not no_id:
            target = result["_id"]
        elif target is None and call.get("upsert") and name != "find_one_and_delete":
            target = [doc["_id"] for doc in collection.find({}, {"_id": 1})][-1]   # inserted
        if target is None:
            return result                       # nothing matched: nothing changed
        single, field = {"find_one_and_update": ("update_one", "update"),
                         "find_one_and_replace": ("replace_one", "replacement"),
                         "find_one_and_delete": ("delete_one", None)}[name]
        args = {"filter": _with_id(query, target)}
        if field:
            args[field] = call[field]
            args["upsert"] = bool(call.get("upsert"))
        self._append(collection.name, single, args)
        return result

    def _append(self, collection: str, method: str, args: dict) -> None:
        self._write(_record({"c": collection, "m": method, "a": args, "t": _utcnow()}))

    def _write(self, record: bytes) -> None:
        done = os.write(self._fd, record)
        if done < len(record):                 # a short write (a signal, a full disk): go on
            view = memoryview(record)[done:]
            while view:
                view = view[os.write(self._fd, view):]
        self._written += len(record)
        self._journal_size += len(record)
        if self._journal_is_large():
            self._wake.set()

    # ------------------------------------------------------------------ durability
    @property
    def journal_bytes(self) -> int:
        return self._journal_size

    @property
    def unsynced(self) -> bool:
        return self._written > self._synced

    def sync(self) -> None:
        """Make every write recorded so far durable (one fsync serves concurrent callers)."""
        if self._depth:
            with self._lock:                   # a write applied but not yet recorded: wait
                pass
        if not self.unsynced:
            return
        with self._lock:
            target = self._written
        with self._sync_lock:
            if self._synced >= target or self._fd is None:
                return
            os.fsync(self._fd)
            self._synced = max(self._synced, target)

    # ------------------------------------------------------------------ snapshots
    def _journal_is_large(self) -> bool:
        return self._journal_size > max(self.compact_min_bytes, self.snapshot_bytes)

    def _background(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(SYNC_SECONDS)
            self._wake.clear()
            try:
                if self._journal_is_large() and not self._stopping.is_set():
                    self.compact()
                self.sync()
            except Exception:                  # noqa: BLE001 - keep serving; say why
                log.exception("Could not write the embedded database file %s",
                              self.snapshot_path)

    def _encode(self, generation: int) -> list[bytes]:
        sections, parts = [], []
        for name in sorted(self.db.list_collection_names()):
            # naive UTC, as stored: the engine's conversion to aware dates is a third of a read
            collection = self.db.get_collection(name, codec_options=CODEC)
            indexes = [{**spec, "name": index} for index, spec
                       in collection.index_information().items() if index != "_id_"]
            docs = [bson.encode(doc) for doc in collection.find({})]
            sections.append({"name": name, "count": len(docs), "indexes": indexes})
            parts.extend(docs)
        header = bson.encode({"format": FORMAT, "version": VERSION, "database": self.db.name,
                              "generation": generation, "written_at": _utcnow(),
                              "collections": sections})
        return [header, *parts]

    def compact(self) -> int:
        """Start the next journal and have a separate process write the snapshot of everything
        before it (``python -m knowgap.core.embedded_file``: it loads the snapshot and the
        closed journals into its own engine, so this process neither pauses its writes nor
        spends its time on it). Returns the new snapshot's size."""
        with self._compacting:
            with self._lock:
                generation = self.generation
                self._open_journal(generation + 1)
            done = subprocess.run(
                [sys.executable, "-m", "knowgap.core.embedded_file", str(self.directory),
                 self.db.name, str(generation)],
                cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise EmbeddedFileError(f"Writing the snapshot {self.snapshot_path} failed; the "
                                        f"journals keep every write:\n{done.stderr[-2000:]}")
            self.snapshot_bytes = self.snapshot_path.stat().st_size
            self.warn_if_too_large()
            return self.snapshot_bytes

    def warn_if_too_large(self) -> None:
        if self.snapshot_bytes > self.max_bytes:
            log.warning("The embedded database file %s holds %.0f MB, over its limit of %.0f MB "
                        "(EMBEDDED_DB_MAX_MB): it is loaded whole into memory at every start "
                        "and rewritten as it grows. Set MONGODB_URI to use MongoDB.",
                        self.snapshot_path, self.snapshot_bytes / 2**20, self.max_bytes / 2**20)


def write_snapshot(directory: str | os.PathLike, name: str, generation: int) -> None:
    """Fold the snapshot and the journals up to ``generation`` (closed: the server writes the
    next one) into snapshot ``generation + 1``. Runs in its own process; holds the compaction
    lock, which a server takes before loading, so it never reads a half-removed journal."""
    import mongomock

    folder = EmbeddedFile(mongomock.MongoClient(tz_aware=True)[name], directory,
                          max_bytes=0)
    fd = os.open(folder.compact_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        folder._load(up_to=generation)
        parts = folder._encode(generation + 1)
        temporary = folder.snapshot_path.with_name(folder.snapshot_path.name + ".tmp")
        with open(temporary, "wb") as fh:
            fh.writelines(parts)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, folder.snapshot_path)
        _fsync_dir(folder.directory)
        for old, path in folder._journals():
            if old <= generation:
                path.unlink(missing_ok=True)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------- the engine's hooks
def _key(database) -> tuple[int, str]:
    return id(database.client), database.name


def open_file(db, directory: str | os.PathLike, *, max_mb: int) -> EmbeddedFile:
    """Load ``db`` (a fresh in-process database) from ``directory`` and keep it there."""
    handle = EmbeddedFile(db, directory, max_bytes=max_mb * 2**20)
    report = handle.open()
    with _open_files_lock:
        _open_files[_key(db)] = handle
    log.warning("MONGODB_URI is not set: using the embedded in-process database, kept in "
                "%s (%d documents in %d collections, %.1f MB, %d journal records replayed, "
                "loaded in %.2f s); one process may use it.", handle.snapshot_path,
                report.documents, report.collections,
                (report.snapshot_bytes + report.journal_bytes) / 2**20, report.replayed,
                report.seconds)
    handle.warn_if_too_large()
    return handle


def close_file(db) -> None:
    from knowgap.core.tenancy import unwrap

    with _open_files_lock:
        handle = _open_files.pop(_key(unwrap(db)), None)
    if handle is not None:
        handle.close()


def file_of(db) -> EmbeddedFile | None:
    from knowgap.core.tenancy import unwrap

    return _open_files.get(_key(unwrap(db)))


def run_write(collection, name: str, method, args: tuple, kwargs: dict):
    """The engine's write methods call this (``knowgap.core.db``): record when persisted."""
    handle = _open_files.get(_key(collection.database))
    if handle is None:
        return method(collection, *args, **kwargs)
    return handle.write(collection, name, method, args, kwargs)


def sync_before_responses(app, db) -> None:
    """Answered requests are durable: fsync the journal before a response leaves."""
    handle = file_of(db)
    if handle is None:
        return

    @app.after_request
    def _durable(response):
        handle.sync()
        return response


if __name__ == "__main__":
    write_snapshot(sys.argv[1], sys.argv[2], int(sys.argv[3]))
