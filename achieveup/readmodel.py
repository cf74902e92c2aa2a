"""The read model: everything that keeps reads and writes of course data fast, in one place.

Stored documents are shaped for the people who query them (plain subdocuments, typed fields;
see the collections in the README). Speed comes from this module instead, the same way on
both engines:

Bulk access (``collection`` is a pymongo or embedded collection; queries and documents are the
caller's, built with ``knowgap.core.tenancy.where``/``key``):

* ``read(collection, query, projection=None, sort=None) -> list[dict]``: every matching
  document in one step (copies);
* ``read_one(collection, query, projection=None) -> dict | None``;
* ``insert_new(collection, docs) -> (inserted, ids that existed)``: inserts the documents whose
  ``_id`` is new and leaves existing ones alone (a concurrent writer got there first);
* ``upsert(collection, docs) -> int``: replaces each document by ``_id``, inserting new ones;
* ``replace_all(collection, query, docs) -> int``: makes ``docs`` the documents matching
  ``query`` (readers never see it half done on the embedded engine).

On MongoDB these are the ordinary driver calls (one unordered bulk request for writes); on the
embedded engine they take the fast paths of ``knowgap.core.db``'s adapter, the only code that
knows the engine's internals.

Course views (``view``, ``put``): a value derived from a course's stored documents, kept in
memory per process for one version of the course. ``view(db, course_id, name, version, build)``
returns the value cached for ``(database, Canvas host, course, name)`` if it was made for
``version``, else ``build()``'s result, which it caches. A writer that changes the documents a
view is built from changes the version too (``achieveup.mastery.store`` keeps the versions in
``AchieveUp_Course_Versions``: ``version`` for summaries and badges, ``answers_version`` for
results and evidence, ``responses_version`` for item responses), so a view is never served for other documents than
the ones it was built from, in any process; a writer that already holds the new value can
``put`` it under the new version so the next reader does not rebuild it. Views are shared
between threads: callers treat them as read-only. The cache holds at most ``MAX_VIEWS``
views (a few courses' worth), least recently used dropped first.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

from knowgap.core import db as engine
from knowgap.core.tenancy import host_of

MAX_VIEWS = 16

_views: "OrderedDict[tuple, tuple[str, Any]]" = OrderedDict()
_lock = threading.Lock()


# ------------------------------------------------------------------ bulk access

def read(collection, query: dict, projection: dict | None = None, sort=None) -> list[dict]:
    return engine.bulk_read(collection, query, projection, sort)


def read_one(collection, query: dict, projection: dict | None = None) -> dict | None:
    docs = engine.bulk_read(collection, query, projection) if "_id" in query \
        else [collection.find_one(query, projection)]
    return docs[0] if docs and docs[0] is not None else None


def insert_new(collection, docs: list[dict]) -> tuple[int, list]:
    return engine.bulk_insert(collection, list(docs))


def upsert(collection, docs) -> int:
    return engine.bulk_upsert(collection, list(docs))


def replace_all(collection, query: dict, docs: list[dict]) -> int:
    return engine.bulk_replace(collection, query, list(docs))


# ------------------------------------------------------------------ course views

def _key(db, course_id, name: str) -> tuple:
    return (id(db.client), db.name, host_of(db), str(course_id), name)


def view(db, course_id, name: str, version: str | None, build: Callable[[], Any]) -> Any:
    """The course's view ``name`` for ``version`` (built by ``build`` when not cached). Without
    a version (a course never written) nothing is cached."""
    key = _key(db, course_id, name)
    if version is not None:
        with _lock:
            hit = _views.get(key)
            if hit is not None and hit[0] == version:
                _views.move_to_end(key)
                return hit[1]
    value = build()
    if version is not None:
        put(db, course_id, name, version, value)
    return value


def put(db, course_id, name: str, version: str, value: Any) -> None:
    """Cache ``value`` as the course's view ``name`` for ``version``."""
    with _lock:
        _views[_key(db, course_id, name)] = (version, value)
        _views.move_to_end(_key(db, course_id, name))
        while len(_views) > MAX_VIEWS:
            _views.popitem(last=False)


def cached(db, course_id, name: str, version: str | None) -> Any | None:
    """The view cached for exactly ``version``, or None."""
    with _lock:
        hit = _views.get(_key(db, course_id, name))
    return hit[1] if hit is not None and version is not None and hit[0] == version else None
