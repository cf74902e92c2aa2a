"""The application factory: one Flask app serving KnowGap and AchieveUp."""
from __future__ import annotations

import importlib
import logging

from flask import Flask
from flask_cors import CORS

from config import Config, load_config
from knowgap.core import db as dbmod, embedded_file, swagger_ui
from knowgap.core.crypto import TokenCipher
from knowgap.core.error_handlers import register_error_handlers
from flask_smorest import Api

from knowgap.core.extensions import limiter
from knowgap.core.request_log import configure_logging, init_request_log
from knowgap.core.services import Services
from knowgap.jobs.worker import Worker

log = logging.getLogger("knowgap")

# One blueprint per capability, "module:attribute". Order only affects the OpenAPI listing.
BLUEPRINTS = [
    "knowgap.health.routes:blp",
    "achieveup.auth.routes:blp",
    "achieveup.canvas.routes:blp",
    "achieveup.skills.routes:blp",
    "achieveup.ai.routes:blp",
    "knowgap.courses.routes:blp",
    "knowgap.videos.routes:blp",
    "knowgap.risk.routes:blp",
    "knowgap.tutor.routes:blp",
    "achieveup.sync.routes:blp",
    "achieveup.badges.routes:blp",
    "achieveup.analytics.routes:blp",
    "achieveup.exchange.routes:blp",
    "achieveup.insights.routes:blp",
    "achieveup.settings.routes:blp",
    "knowgap.xapi.routes:blp",
]


def _flask_settings(config: Config) -> dict:
    return {
        "MAX_CONTENT_LENGTH": config.max_content_length,
        "JSON_SORT_KEYS": False,
        "API_TITLE": "KnowGap + AchieveUp",
        "API_VERSION": "1.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": swagger_ui.URL,        # served by the app (no CDN)
        "OPENAPI_SWAGGER_UI_CONFIG": swagger_ui.CONFIG,
        "RATELIMIT_STORAGE_URI": config.ratelimit_storage_uri,
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
    }


def _load(path: str):
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


def _warn_if_migration_pending(database) -> None:
    from knowgap.migrate import pending

    left = pending(database)
    if left:
        log.error("The database holds records in the shape of an earlier version (%s): run "
                  "`python -m knowgap.migrate` (README, \"Upgrading\").",
                  ", ".join(left))


def create_app(config: Config | None = None, *, db=None) -> Flask:
    config = config or load_config()
    configure_logging(config.log_level)
    if config.generated_secrets:
        log.warning("Development secrets for %s come from instance/dev-secrets.json (generated "
                    "on first start); set them in the environment for any shared deployment.",
                    ", ".join(config.generated_secrets))

    app = Flask(__name__)
    app.config.update(_flask_settings(config))
    database = db if db is not None else dbmod.connect(
        config.mongodb_uri, config.mongodb_db, embedded_dir=config.embedded_db_directory,
        embedded_max_mb=config.embedded_db_max_mb)
    indexes = dbmod.IndexManager(database)
    if indexes.ensure():
        _warn_if_migration_pending(database)
    app.extensions["knowgap"] = Services(config=config, db=database,
                                         cipher=TokenCipher(config.token_encryption_key),
                                         indexes=indexes)

    CORS(app, origins=list(config.cors_origins), supports_credentials=False,
         expose_headers=["Content-Disposition", "X-Request-ID", "Retry-After", "X-Cache-Stale",
                         "X-Suggestion-Source"])
    limiter.init_app(app)
    api = Api(app)
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    for path in BLUEPRINTS:
        api.register_blueprint(_load(path))
    app.register_blueprint(swagger_ui.blp)
    init_request_log(app)
    register_error_handlers(app)
    embedded_file.sync_before_responses(app, database)

    @app.before_request
    def _retry_indexes():
        """The app starts even when the database is down; the indexes are created once it
        is back (rate-limited inside ``ensure_due``, nothing to do once they exist)."""
        if not indexes.ready:
            indexes.ensure_due()

    from achieveup.cli import register_cli

    register_cli(app)
    if config.run_worker_thread:
        app.extensions["knowgap"].extras["worker"] = Worker(app)
        app.extensions["knowgap"].extras["worker"].start_thread()
    return app
