"""The read model's bulk writes (``achieveup.readmodel`` over ``knowgap.core.db``'s adapter)
keep the engine's semantics: ``_id`` and unique indexes hold, dates come back in UTC, a
document read is a copy; on a database kept in a file they are journaled like the engine's
own writes, so a restart reads them back."""
from __future__ import annotations

import datetime as dt

import pytest
from pymongo.errors import DuplicateKeyError

from achieveup import readmodel
from knowgap.core import db as dbmod
from knowgap.core import embedded_file

WHEN = dt.datetime(2024, 9, 17, 14, 5, 0, 123456, tzinfo=dt.timezone.utc)


def docs(n, **extra):
    return [{"_id": f"h|{i}", "canvas_host": "h", "course_id": "1", "student_id": str(i),
             "at": WHEN, "tags": ["a"], **extra} for i in range(n)]


def test_bulk_writes_keep_ids_unique_keys_and_types(db):
    coll = db["AchieveUp_Canvas_Students"]
    coll.create_index([("canvas_host", 1), ("course_id", 1), ("student_id", 1)], unique=True)
    assert readmodel.insert_new(coll, docs(3)) == (3, [])
    # an existing _id and a clash with the unique key are refused, the rest is written
    clash = {**docs(1)[0], "_id": "h|other"}
    assert readmodel.insert_new(coll, docs(4) + [clash]) == (1, ["h|0", "h|1", "h|2", "h|other"])
    got = readmodel.read(coll, {"canvas_host": "h", "student_id": {"$in": ["1", "3"]}},
                         {"_id": 0, "student_id": 1, "at": 1})
    assert got == [{"student_id": "1", "at": WHEN.replace(microsecond=123000)},
                   {"student_id": "3", "at": WHEN.replace(microsecond=123000)}]
    got[0]["student_id"] = "changed"                                 # a copy
    assert coll.find_one({"_id": "h|1"})["student_id"] == "1"
    assert readmodel.upsert(coll, docs(2, name="x") + [{**docs(5)[4], "name": "y"}]) == 3
    assert coll.count_documents({}) == 5 and coll.count_documents({"name": "x"}) == 2
    with pytest.raises(DuplicateKeyError):
        readmodel.upsert(coll, [{**docs(1)[0], "_id": "h|another"}])
    assert readmodel.replace_all(coll, {"canvas_host": "h", "course_id": "1"}, docs(2)) == 2
    assert sorted(d["_id"] for d in coll.find()) == ["h|0", "h|1"]
    # what the engine's own query language says about the written documents
    assert coll.count_documents({"at": {"$lt": WHEN + dt.timedelta(seconds=1)}}) == 2
    assert coll.find_one({"tags": "a"})["at"].tzinfo is not None


def test_bulk_writes_are_journaled_and_survive_a_restart(tmp_path):
    database = dbmod.connect("", "rm", embedded_dir=str(tmp_path))
    try:
        coll = database["AchieveUp_Student_Evidence"]
        readmodel.insert_new(coll, docs(3))
        readmodel.upsert(coll, docs(2, count=7))
        readmodel.replace_all(database["AchieveUp_Student_Mastery"], {"canvas_host": "h"},
                              docs(2, skills=[{"skill": "Cells", "score": 81.2}]))
        before = {n: sorted(database[n].find(), key=lambda d: d["_id"])
                  for n in ("AchieveUp_Student_Evidence", "AchieveUp_Student_Mastery")}
    finally:
        embedded_file.close_file(database)
    again = dbmod.connect("", "rm", embedded_dir=str(tmp_path))
    try:
        after = {n: sorted(again[n].find(), key=lambda d: d["_id"]) for n in before}
    finally:
        embedded_file.close_file(again)
    assert after == before and len(after["AchieveUp_Student_Evidence"]) == 3
    assert after["AchieveUp_Student_Evidence"][0]["count"] == 7
