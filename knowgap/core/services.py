"""The app-level registry of shared services, so services receive handles, not globals."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from pymongo.database import Database

from config import Config
from knowgap.core.crypto import TokenCipher
from knowgap.core.db import IndexManager


@dataclass
class Services:
    config: Config
    db: Database
    cipher: TokenCipher
    indexes: IndexManager
    extras: dict = field(default_factory=dict)


def services() -> Services:
    return current_app.extensions["knowgap"]
