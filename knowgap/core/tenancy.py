"""Tenancy: every stored record belongs to the Canvas host it came from.

Canvas course and user ids are numbered per Canvas installation, so course 101 of
``ucf.instructure.com`` and course 101 of ``fiu.instructure.com`` are two courses (and
``*.instructure.com`` alone spans hundreds of institutions). Every document of a course, a
student or a Canvas user therefore carries ``canvas_host`` (``knowgap.canvas.hosts.canvas_host``:
``host[:port]``, e.g. ``ucf.instructure.com`` or ``127.0.0.1:8900``), every natural-key ``_id``
starts with it (``key``), every index starts with it (``knowgap.core.indexes``), and every
query filters by it (``where``).

The host travels with the database handle: ``scoped(db, host)`` is the database as one Canvas
host sees it (a ``TenantDb``: collections, ``client`` and ``name`` are the real database's, plus
``canvas_host``). It is made at the edge, from a verified identity only:

- AchieveUp routes: the signed-in user's Canvas host (``achieveup.auth.guards.tenant_db``, from
  the user's ``canvas_base_url``, else the server's ``CANVAS_BASE_URL``);
- KnowGap routes: the caller's verified Canvas ``link`` (``Caller.canvas_host``,
  ``knowgap.identity.request.scoped_services``); token-less reads: the Canvas the request
  names (``requested_services``);
- jobs: the host stored on the job when it was queued;
- public badge documents: the host stored on the badge.

Stores build every filter, document and key with ``where``/``key``, which refuse a database
that is not scoped (``TenancyError``): a query that forgot its tenant fails loudly instead of
reading another institution's data. Code that must see every tenant (the job queue's claim,
the scheduled refresh, the migration, public lookups by an unguessable id) uses the plain
database on purpose.
"""
from __future__ import annotations

from typing import Any

FIELD = "canvas_host"
SEP = "|"


class TenancyError(RuntimeError):
    """A store was called with a database that is not scoped to a Canvas host (a bug)."""


class TenantDb:
    """The database seen by one Canvas host; everything but ``canvas_host`` is the real one's."""

    __slots__ = ("raw", "canvas_host")

    def __init__(self, db, canvas_host: str):
        if not isinstance(canvas_host, str) or not canvas_host or SEP in canvas_host:
            raise TenancyError(f"not a Canvas host key: {canvas_host!r}")
        self.raw = unwrap(db)
        self.canvas_host = canvas_host

    def __getitem__(self, name: str):
        return self.raw[name]

    def __getattr__(self, name: str) -> Any:
        if name in TenantDb.__slots__:          # not set yet (copying): no recursion
            raise AttributeError(name)
        return getattr(self.raw, name)

    def __repr__(self) -> str:
        return f"TenantDb({self.raw.name!r}, {self.canvas_host!r})"


def scoped(db, canvas_host: str) -> TenantDb:
    """``db`` as the Canvas host ``canvas_host`` sees it."""
    return TenantDb(db, canvas_host)


def unwrap(db):
    """The real database behind a (possibly scoped) handle."""
    return db.raw if isinstance(db, TenantDb) else db


def host_of(db) -> str:
    """The Canvas host of a scoped database; ``TenancyError`` for an unscoped one."""
    if isinstance(db, TenantDb):
        return db.canvas_host
    raise TenancyError("This store needs a database scoped to a Canvas host "
                       "(knowgap.core.tenancy.scoped); got an unscoped handle.")


def host_or_none(db) -> str | None:
    """The Canvas host of a scoped database, None for the plain one."""
    return db.canvas_host if isinstance(db, TenantDb) else None


def where(db, **fields) -> dict:
    """``{"canvas_host": <host>, **fields}``: a filter, or the scope fields of a new document."""
    return {FIELD: host_of(db), **fields}


def key(db, *parts) -> str:
    """A natural-key ``_id``: ``host|part|part…`` (e.g. ``host|course|student``)."""
    return SEP.join((host_of(db), *(str(p) for p in parts)))


def in_scope(db, doc: dict | None) -> bool:
    """True when ``doc`` (found by a tenant-free key, e.g. an unguessable id) is ``db``'s."""
    return bool(doc) and doc.get(FIELD) == host_of(db)
