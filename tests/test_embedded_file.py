"""The embedded database's file (``knowgap/core/embedded_file.py``): what a restart gives back.

Each test opens the in-process engine on a temporary directory, writes through the driver's
public methods, closes it (or abandons it, as a killed process would) and opens the directory
again: the documents, their types and the indexes must be what they were. The HTTP round trip
through a real server process is in ``tests/test_embedded_restart.py``.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid

import bson
import pytest
from bson import Decimal128, Int64, ObjectId
from bson.binary import Binary
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from knowgap.core import db as dbmod
from knowgap.core import embedded_file

pytestmark = pytest.mark.skipif(bool(os.environ.get("TEST_MONGODB_URI")),
                                reason="the embedded engine's file only")


@pytest.fixture
def opened(tmp_path):
    """open(): the database kept in ``tmp_path`` (a fresh engine each call)."""
    handles = []

    def open_db(**kwargs):
        db = dbmod.connect("", "kg", embedded_dir=str(tmp_path), **kwargs)
        handles.append(db)
        return db

    yield open_db
    for db in handles:
        embedded_file.close_file(db)


def everything(db) -> dict:
    return {name: list(db[name].find({})) for name in sorted(db.list_collection_names())}


def indexes(db) -> dict:
    return {name: db[name].index_information() for name in sorted(db.list_collection_names())}


def reopen(db, open_db):
    embedded_file.close_file(db)
    return open_db()


def abandon(db):
    """What ``kill -9`` leaves: the files as they are, the lock released, no final sync."""
    handle = embedded_file.file_of(db)
    with embedded_file._open_files_lock:
        embedded_file._open_files.pop(embedded_file._key(db))
    handle._stopping.set()
    handle._wake.set()
    handle._thread.join()
    os.close(handle._fd)
    os.close(handle._lock_fd)


def test_documents_keep_their_types_and_order_across_a_restart(opened):
    db = opened()
    now = dt.datetime.now(dt.timezone.utc)
    doc = {"_id": ObjectId(), "z_first": 1, "a_second": 2, "when": now, "count": Int64(2**40),
           "ratio": 0.25, "price": Decimal128("12.50"), "secret": b"\x00\xffsealed",
           "uuid": Binary(uuid.uuid4().bytes, 4), "nested": {"list": [1, "two", {"three": 3.0}]},
           "none": None, "flag": True, "ref": ObjectId()}
    db["AchieveUp_Users"].insert_one(doc)
    before = everything(db)
    again = everything(reopen(db, opened))
    assert again == before
    stored = again["AchieveUp_Users"][0]
    assert list(stored) == list(before["AchieveUp_Users"][0])           # field order kept
    assert isinstance(stored["count"], Int64) and stored["count"] == 2**40
    assert isinstance(stored["ref"], ObjectId) and isinstance(stored["price"], Decimal128)
    assert stored["secret"] == b"\x00\xffsealed" and stored["uuid"].subtype == 4
    assert stored["when"] == now.replace(microsecond=now.microsecond // 1000 * 1000)
    assert stored["when"].tzinfo is not None


def test_every_kind_of_write_replays_to_the_same_state(opened):
    db = opened()
    users, jobs = db["users"], db["jobs"]
    users.create_index([("email", 1)], unique=True)
    users.insert_one({"email": "a@x", "n": 1})
    users.insert_many([{"email": f"{i}@x", "n": i} for i in range(5)])
    users.update_one({"email": "new@x"}, {"$set": {"n": 9}, "$setOnInsert": {"s": 1}},
                     upsert=True)                               # the engine picks the _id
    users.update_many({"n": {"$lt": 3}}, {"$inc": {"n": 10}})
    users.replace_one({"email": "4@x"}, {"email": "4@x", "replaced": True})
    users.replace_one({"email": "r@x"}, {"email": "r@x"}, upsert=True)
    users.delete_one({"email": "3@x"})
    users.delete_many({"n": {"$gt": 11}})
    with pytest.raises(DuplicateKeyError):
        users.insert_one({"email": "a@x"})
    with pytest.raises(BulkWriteError):                 # two of three inserted
        users.insert_many([{"email": "x1"}, {"email": "a@x"}, {"email": "x2"}], ordered=False)
    jobs.insert_many([{"state": "queued", "i": i} for i in range(4)])
    claimed = jobs.find_one_and_update({"state": "queued"}, {"$set": {"state": "running"}},
                                       sort=[("i", -1)], projection={"state": 1, "i": 1},
                                       return_document=ReturnDocument.AFTER)
    assert (claimed["state"], claimed["i"]) == ("running", 3)
    jobs.find_one_and_update({"state": "queued"}, {"$set": {"state": "taken"}},
                             projection={"_id": 0})             # the engine ignores the sort
    jobs.find_one_and_update({"kind": "counter"}, {"$inc": {"next": 1}}, upsert=True)
    jobs.find_one_and_update({"kind": "other"}, {"$inc": {"next": 1}}, upsert=True,
                             projection={"_id": 0}, return_document=ReturnDocument.AFTER)
    jobs.find_one_and_replace({"i": 1}, {"state": "replaced"})
    jobs.find_one_and_delete({"i": 0})
    jobs.find_one_and_update({"state": "absent"}, {"$set": {"x": 1}})      # matches nothing
    before, index_info = everything(db), indexes(db)
    db = reopen(db, opened)
    assert everything(db) == before and indexes(db) == index_info
    with pytest.raises(DuplicateKeyError):                  # the unique index holds again
        db["users"].insert_one({"email": "a@x"})


def test_a_snapshot_then_more_writes_then_a_restart(opened):
    db = opened()
    db["c"].create_index([("k", 1)], unique=True)
    db["c"].insert_many([{"k": i} for i in range(100)])
    handle = embedded_file.file_of(db)
    assert handle.compact() > 0
    assert sorted(p.name for p in handle.directory.iterdir()) == [
        "kg.compact.lock", "kg.journal-1", "kg.lock", "kg.snapshot"]
    db["c"].update_many({"k": {"$gte": 50}}, {"$set": {"big": True}})
    before, index_info = everything(db), indexes(db)
    db = reopen(db, opened)
    assert everything(db) == before and indexes(db) == index_info


def test_a_killed_process_loses_nothing_that_returned(opened):
    db = opened()
    for i in range(50):
        db["answers"].insert_one({"i": i})
    db["answers"].update_one({"i": 7}, {"$set": {"seen": True}})
    before = everything(db)
    abandon(db)                           # no close, no fsync: the OS still has every write
    assert everything(opened()) == before


def test_a_torn_last_record_is_cut_off_and_writing_goes_on(opened, tmp_path, caplog):
    db = opened()
    db["c"].insert_one({"k": 1})
    before = everything(db)
    abandon(db)
    journal = tmp_path / "kg.journal-0"
    record = embedded_file._record({"c": "c", "m": "insert_one",
                                    "a": {"document": {"_id": 2, "k": 2}},
                                    "t": dt.datetime(2026, 1, 1)})
    with open(journal, "ab") as fh:
        fh.write(record[:-5])             # the process died inside write()
    with caplog.at_level(logging.WARNING, logger="knowgap.db"):
        db = opened()
    assert everything(db) == before
    assert "incomplete record" in caplog.text
    db["c"].insert_one({"k": 3})
    after = everything(db)
    assert [d["k"] for d in after["c"]] == [1, 3]
    assert everything(reopen(db, opened)) == after


def test_a_crash_while_writing_a_snapshot_leaves_a_loadable_state(opened, tmp_path):
    db = opened()
    db["c"].insert_many([{"k": i} for i in range(10)])
    handle = embedded_file.file_of(db)
    handle.compact()                                      # snapshot generation 1
    db["c"].insert_one({"k": 10})                         # journal 1
    # the snapshot writer died after the server had started journal 2, before its rename
    handle._open_journal(2)
    (tmp_path / "kg.snapshot.tmp").write_bytes(b"half a snapshot")
    db["c"].update_one({"k": 3}, {"$set": {"after": True}})   # into journal 2
    before = everything(db)
    abandon(db)
    db = opened()
    assert everything(db) == before                       # snapshot 1 + journals 1 and 2
    handle = embedded_file.file_of(db)
    handle.compact()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "kg.compact.lock", "kg.journal-3", "kg.lock", "kg.snapshot"]
    # ... or it died after the rename, before removing the journal it folded in
    stale = embedded_file._record({"c": "c", "m": "insert_one",
                                   "a": {"document": {"_id": "twice", "k": 99}},
                                   "t": dt.datetime(2026, 1, 1)})
    (tmp_path / "kg.journal-2").write_bytes(stale)
    before = everything(db)
    abandon(db)
    assert everything(opened()) == before                 # journal 2 is older: not replayed
    assert not (tmp_path / "kg.journal-2").exists()


def test_a_second_process_is_refused_with_a_reason(opened, tmp_path):
    opened()
    with pytest.raises(embedded_file.EmbeddedFileError) as refused:
        dbmod.connect("", "kg", embedded_dir=str(tmp_path))
    message = str(refused.value)
    assert f"in use by process {os.getpid()}" in message
    assert "WEB_CONCURRENCY=1" in message and "MONGODB_URI" in message


def test_start_up_log_names_the_file_and_the_limit(opened, tmp_path, caplog):
    db = opened()
    db["c"].insert_many([{"blob": "x" * 4000} for _ in range(300)])     # ~1.2 MB
    embedded_file.file_of(db).compact()
    embedded_file.close_file(db)
    with caplog.at_level(logging.INFO, logger="knowgap.db"):
        opened(embedded_max_mb=1)
    assert f"embedded in-process database, kept in {tmp_path / 'kg.snapshot'}" in caplog.text
    assert "over its limit of 1 MB" in caplog.text and "Set MONGODB_URI" in caplog.text


def test_a_write_the_file_cannot_hold_changes_nothing(opened):
    db = opened()
    with pytest.raises(bson.errors.InvalidDocument):
        db["c"].update_one({"_id": 1}, {"$set": {"when": dt.date(2026, 1, 1)}}, upsert=True)
    assert db["c"].count_documents({}) == 0
    with pytest.raises(embedded_file.EmbeddedFileError, match="bulk_write"):
        db["c"].bulk_write([UpdateOne({"_id": 1}, {"$set": {"x": 1}}, upsert=True)])
    assert db["c"].count_documents({}) == 0


def test_ttl_expiry_replays_by_the_journal_clock(opened):
    """A refresh-token-like collection: a record expired before a later upsert reused its key;
    the replay must not meet the expired record (it would break the unique index)."""
    db = opened()
    tokens = db["tokens"]
    tokens.create_index([("jti", 1)], unique=True)
    tokens.create_index([("expires_at", 1)], expireAfterSeconds=0)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    tokens.insert_one({"jti": "a", "expires_at": past})             # already expired
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    tokens.update_one({"jti": "a"}, {"$set": {"expires_at": later}}, upsert=True)
    before, index_info = everything(db), indexes(db)
    assert len(before["tokens"]) == 1
    db = reopen(db, opened)
    assert everything(db) == before and indexes(db) == index_info


def test_memory_only_when_no_directory_is_given(tmp_path):
    db = dbmod.connect("", "kg")
    db["c"].insert_one({"k": 1})
    assert embedded_file.file_of(db) is None
    assert list(tmp_path.iterdir()) == []


def test_a_snapshot_is_written_once_the_journal_outgrew_it(opened):
    db = opened()
    handle = embedded_file.file_of(db)
    handle.compact_min_bytes = 10_000
    db["c"].insert_many([{"k": i, "pad": "x" * 100} for i in range(200)])   # ~30 KB
    deadline = time.monotonic() + 60
    while not handle.snapshot_path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert handle.generation == 1 and handle.snapshot_path.exists()
    db["c"].insert_one({"k": "after"})                    # into journal 1, beside the snapshot
    before = everything(db)
    assert everything(reopen(db, opened)) == before
