"""The app-level registry of shared services, so services receive handles, not globals."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from flask import current_app
from pymongo.database import Database

from config import Config
from knowgap.core.crypto import TokenCipher
from knowgap.core.db import IndexManager
from knowgap.core.tenancy import scoped


@dataclass
class Services:
    config: Config
    db: Database
    cipher: TokenCipher
    indexes: IndexManager
    extras: dict = field(default_factory=dict)

    def scoped(self, canvas_host: str) -> "Services":
        """The same services with ``db`` scoped to one Canvas host (``knowgap.core.tenancy``)."""
        return replace(self, db=scoped(self.db, canvas_host))


def services() -> Services:
    return current_app.extensions["knowgap"]
