"""Every setting of the service, read from the environment once.

Development needs nothing configured: the database falls back to the in-process engine and
secrets are generated once into ``instance/dev-secrets.json``. Production
(``APP_ENV=production``) refuses to start while a secret is missing, naming each one, because a
server that silently invents its own keys would log everybody out on every restart and could
not read the Canvas tokens it stored yesterday.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger("config")

ROOT = Path(__file__).resolve().parent
DEV_SECRETS_FILE = ROOT / "instance" / "dev-secrets.json"


class ConfigError(RuntimeError):
    """Raised when the environment cannot produce a safe configuration."""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


#: gunicorn's threads per worker (gunicorn.conf.py reads GUNICORN_THREADS with this default).
#: Each open tutor stream holds one; TUTOR_MAX_STREAMS leaves the rest to the other routes.
DEFAULT_GUNICORN_THREADS = 64


@dataclass(frozen=True)
class Config:
    app_env: str = "development"
    log_level: str = "INFO"
    public_base_url: str = "http://localhost:5001"
    max_content_length: int = 2 * 1024 * 1024

    mongodb_uri: str = ""
    mongodb_db: str = "knowgap"
    # The in-process engine (no MONGODB_URI) keeps its data in a file here (README).
    embedded_db_persist: bool = True
    embedded_db_dir: str = str(ROOT / "instance")
    embedded_db_max_mb: int = 512

    jwt_secret_key: str = ""
    # 24 h: the web app never refreshes, so a session must last a working day; revocation
    # (logout, password change, refresh reuse) is checked on every request (README: Security).
    jwt_access_minutes: int = 24 * 60
    jwt_refresh_days: int = 14
    token_encryption_key: str = ""
    bcrypt_rounds: int = 12

    cors_origins: tuple[str, ...] = ("http://localhost:3000", "http://localhost:5001")
    ratelimit_storage_uri: str = "memory://"
    auth_rate_limit: str = "10/minute"
    ai_rate_limit: str = "60/minute"

    canvas_base_url: str = "https://canvas.instructure.com"
    canvas_allowed_hosts: tuple[str, ...] = ("canvas.instructure.com", "*.instructure.com")
    # Where report and file downloads may be redirected (besides the Canvas host itself):
    # Instructure's file service (inst-fs) and its S3 buckets.
    canvas_file_hosts: tuple[str, ...] = ("*.inscloudgate.net",
                                          "instructure-uploads.s3.amazonaws.com",
                                          "instructure-uploads-*.s3.*.amazonaws.com")
    canvas_cache_ttl_seconds: int = 300
    canvas_timeout_seconds: float = 20.0
    canvas_max_concurrency: int = 12
    canvas_max_retries: int = 5
    canvas_report_wait_seconds: float = 120.0
    student_analysis_max_bytes: int = 25 * 1024 * 1024

    openai_api_key: str = ""
    openai_base_url: str = "https://api.openai.com/v1"
    openai_model: str = "gpt-4o-mini"
    openai_timeout_seconds: float = 20.0

    # the tutor (knowgap/tutor): README "Tutor"
    tutor_student_rate_limit: str = "5/minute;50/hour"
    tutor_course_daily_tokens: int = 200_000
    tutor_history_tokens: int = 2_000
    tutor_max_answer_tokens: int = 600
    tutor_timeout_seconds: float = 20.0
    tutor_max_streams: int = 0         # 0: gunicorn_threads minus a reserve (tutor_stream_slots)
    gunicorn_threads: int = DEFAULT_GUNICORN_THREADS

    youtube_api_key: str = ""
    youtube_base_url: str = "https://www.googleapis.com/youtube/v3"

    knowgap_sync_minutes: int = 60
    run_worker_thread: bool = True
    job_lease_seconds: int = 60

    badge_min_evidence: int = 3
    badge_salt: str = ""
    badge_signing_key: str = ""
    badge_retired_public_keys: tuple[str, ...] = ()
    badge_issuer_name: str = "AchieveUp"
    badge_issuer_url: str = ""
    badge_issuer_email: str = ""
    badge_issuer_linkedin_id: str = ""
    badge_status_list_ttl_seconds: int = 300
    badge_verify_rate_limit: str = "30/minute"

    # xAPI statements to a Learning Record Store (knowgap/xapi); off while xapi_lrs_url is empty
    xapi_lrs_url: str = ""
    xapi_lrs_username: str = ""
    xapi_lrs_password: str = field(default="", repr=False)
    xapi_batch_size: int = 500
    xapi_default_on: bool = False
    xapi_actor_mbox: bool = False
    xapi_timeout_seconds: float = 60.0
    xapi_retry_max_seconds: int = 900

    generated_secrets: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def tutor_stream_slots(self) -> int:
        """Tutor streams one worker serves at once: TUTOR_MAX_STREAMS, or by default its
        gunicorn threads less a reserve (8, or half of fewer threads) for the other routes."""
        if self.tutor_max_streams:
            return self.tutor_max_streams
        return max(1, self.gunicorn_threads - min(8, self.gunicorn_threads // 2))

    @property
    def uses_embedded_db(self) -> bool:
        return not self.mongodb_uri

    @property
    def embedded_db_directory(self) -> str | None:
        """Where the in-process engine keeps its file; None when it is memory only."""
        if self.mongodb_uri or not self.embedded_db_persist:
            return None
        return self.embedded_db_dir

    def with_overrides(self, **overrides) -> "Config":
        """A copy with some settings replaced (tests and tools use this)."""
        return replace(self, **overrides)


# Environment variable -> (field name, parser). One table so the README can mirror it.
ENV_TABLE: dict[str, tuple[str, callable]] = {
    "APP_ENV": ("app_env", str),
    "LOG_LEVEL": ("log_level", str),
    "PUBLIC_BASE_URL": ("public_base_url", str),
    "MAX_CONTENT_LENGTH": ("max_content_length", int),
    "MONGODB_URI": ("mongodb_uri", str),
    "MONGODB_DB": ("mongodb_db", str),
    "EMBEDDED_DB_PERSIST": ("embedded_db_persist", _bool),
    "EMBEDDED_DB_DIR": ("embedded_db_dir", str),
    "EMBEDDED_DB_MAX_MB": ("embedded_db_max_mb", int),
    "JWT_SECRET_KEY": ("jwt_secret_key", str),
    "JWT_ACCESS_MINUTES": ("jwt_access_minutes", int),
    "JWT_REFRESH_DAYS": ("jwt_refresh_days", int),
    "TOKEN_ENCRYPTION_KEY": ("token_encryption_key", str),
    "BCRYPT_ROUNDS": ("bcrypt_rounds", int),
    "CORS_ORIGINS": ("cors_origins", _csv),
    "RATELIMIT_STORAGE_URI": ("ratelimit_storage_uri", str),
    "AUTH_RATE_LIMIT": ("auth_rate_limit", str),
    "AI_RATE_LIMIT": ("ai_rate_limit", str),
    "CANVAS_BASE_URL": ("canvas_base_url", str),
    "CANVAS_ALLOWED_HOSTS": ("canvas_allowed_hosts", _csv),
    "CANVAS_FILE_HOSTS": ("canvas_file_hosts", _csv),
    "CANVAS_CACHE_TTL_SECONDS": ("canvas_cache_ttl_seconds", int),
    "CANVAS_TIMEOUT_SECONDS": ("canvas_timeout_seconds", float),
    "CANVAS_MAX_CONCURRENCY": ("canvas_max_concurrency", int),
    "CANVAS_MAX_RETRIES": ("canvas_max_retries", int),
    "CANVAS_REPORT_WAIT_SECONDS": ("canvas_report_wait_seconds", float),
    "STUDENT_ANALYSIS_MAX_BYTES": ("student_analysis_max_bytes", int),
    "OPENAI_API_KEY": ("openai_api_key", str),
    "OPENAI_BASE_URL": ("openai_base_url", str),
    "OPENAI_MODEL": ("openai_model", str),
    "OPENAI_TIMEOUT_SECONDS": ("openai_timeout_seconds", float),
    "TUTOR_STUDENT_RATE_LIMIT": ("tutor_student_rate_limit", str),
    "TUTOR_COURSE_DAILY_TOKENS": ("tutor_course_daily_tokens", int),
    "TUTOR_HISTORY_TOKENS": ("tutor_history_tokens", int),
    "TUTOR_MAX_ANSWER_TOKENS": ("tutor_max_answer_tokens", int),
    "TUTOR_TIMEOUT_SECONDS": ("tutor_timeout_seconds", float),
    "TUTOR_MAX_STREAMS": ("tutor_max_streams", int),
    "GUNICORN_THREADS": ("gunicorn_threads", int),
    "YOUTUBE_API_KEY": ("youtube_api_key", str),
    "YOUTUBE_BASE_URL": ("youtube_base_url", str),
    "KNOWGAP_SYNC_MINUTES": ("knowgap_sync_minutes", int),
    "RUN_WORKER_THREAD": ("run_worker_thread", _bool),
    "JOB_LEASE_SECONDS": ("job_lease_seconds", int),
    "BADGE_MIN_EVIDENCE": ("badge_min_evidence", int),
    "BADGE_SALT": ("badge_salt", str),
    "BADGE_SIGNING_KEY": ("badge_signing_key", str),
    "BADGE_RETIRED_PUBLIC_KEYS": ("badge_retired_public_keys", _csv),
    "BADGE_ISSUER_NAME": ("badge_issuer_name", str),
    "BADGE_ISSUER_URL": ("badge_issuer_url", str),
    "BADGE_ISSUER_EMAIL": ("badge_issuer_email", str),
    "BADGE_ISSUER_LINKEDIN_ID": ("badge_issuer_linkedin_id", str),
    "BADGE_STATUS_LIST_TTL_SECONDS": ("badge_status_list_ttl_seconds", int),
    "BADGE_VERIFY_RATE_LIMIT": ("badge_verify_rate_limit", str),
    "XAPI_LRS_URL": ("xapi_lrs_url", str),
    "XAPI_LRS_USERNAME": ("xapi_lrs_username", str),
    "XAPI_LRS_PASSWORD": ("xapi_lrs_password", str),
    "XAPI_BATCH_SIZE": ("xapi_batch_size", int),
    "XAPI_DEFAULT_ON": ("xapi_default_on", _bool),
    "XAPI_ACTOR_MBOX": ("xapi_actor_mbox", _bool),
    "XAPI_TIMEOUT_SECONDS": ("xapi_timeout_seconds", float),
    "XAPI_RETRY_MAX_SECONDS": ("xapi_retry_max_seconds", int),
}

SECRETS = ("jwt_secret_key", "token_encryption_key", "badge_salt", "badge_signing_key")
#: Required in production although not secret: published badges must name a real contact.
PRODUCTION_REQUIRED = {"badge_issuer_email": "BADGE_ISSUER_EMAIL"}
SECRET_ENV = {f: env for env, (f, _) in ENV_TABLE.items() if f in SECRETS}


def new_encryption_key() -> str:
    """A fresh 256-bit key in the url-safe base64 form TOKEN_ENCRYPTION_KEY expects."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def new_signing_key() -> str:
    """A fresh Ed25519 private key in the url-safe base64 form BADGE_SIGNING_KEY accepts."""
    from achieveup.badges.keys import new_private_key

    return new_private_key()


def _generate_secret(name: str) -> str:
    if name == "token_encryption_key":
        return new_encryption_key()
    if name == "badge_signing_key":
        return new_signing_key()
    return secrets.token_urlsafe(48)


def _dev_secrets(missing: list[str]) -> dict[str, str]:
    """Load or create the development secrets file so restarts keep sessions and tokens."""
    stored: dict[str, str] = {}
    if DEV_SECRETS_FILE.exists():
        stored = json.loads(DEV_SECRETS_FILE.read_text())
    changed = False
    for name in missing:
        if not stored.get(name):
            stored[name] = _generate_secret(name)
            changed = True
    if changed:
        DEV_SECRETS_FILE.parent.mkdir(parents=True, exist_ok=True)
        DEV_SECRETS_FILE.write_text(json.dumps(stored, indent=2))
        DEV_SECRETS_FILE.chmod(0o600)
    return {name: stored[name] for name in missing}


def validate(config: Config) -> None:
    """Reject settings that would make the service unsafe or unusable."""
    problems = []
    if len(config.jwt_secret_key.encode()) < 32:
        problems.append("JWT_SECRET_KEY must be at least 32 bytes")
    try:
        if len(base64.urlsafe_b64decode(config.token_encryption_key.encode())) != 32:
            raise ValueError
    except (ValueError, TypeError):
        problems.append("TOKEN_ENCRYPTION_KEY must be 32 bytes in url-safe base64")
    if not 0 < config.jwt_access_minutes < config.jwt_refresh_days * 24 * 60:
        # a session's refresh records must outlive its access tokens: revocation reads them
        problems.append("JWT_ACCESS_MINUTES must be positive and shorter than JWT_REFRESH_DAYS")
    if config.embedded_db_max_mb <= 0:
        problems.append("EMBEDDED_DB_MAX_MB must be positive")
    if urlparse(config.canvas_base_url).scheme not in {"http", "https"}:
        problems.append("CANVAS_BASE_URL must be an http(s) URL")
    try:
        from limits import parse_many

        parse_many(config.tutor_student_rate_limit)
    except ValueError:
        problems.append("TUTOR_STUDENT_RATE_LIMIT must be rate limits like '5/minute;50/hour'")
    if config.tutor_max_streams < 0 or config.tutor_timeout_seconds <= 0 \
            or config.tutor_history_tokens < 0 or config.tutor_max_answer_tokens < 1 \
            or config.gunicorn_threads < 1:
        problems.append("TUTOR_TIMEOUT_SECONDS, TUTOR_MAX_ANSWER_TOKENS and GUNICORN_THREADS "
                        "must be positive, TUTOR_MAX_STREAMS and TUTOR_HISTORY_TOKENS not "
                        "negative")
    if config.is_production and "*" in config.cors_origins:
        problems.append("CORS_ORIGINS may not be '*' in production")
    problems.extend(_xapi_problems(config))
    from achieveup.badges.keys import key_problems

    problems.extend(key_problems(config.badge_signing_key, config.badge_retired_public_keys))
    if problems:
        raise ConfigError("Invalid configuration: " + "; ".join(problems) + ".")


def _xapi_problems(config: Config) -> list[str]:
    """Student data and the LRS password never travel in clear text off this machine."""
    from knowgap.canvas.hosts import is_loopback

    problems = []
    if config.xapi_lrs_url:
        parts = urlparse(config.xapi_lrs_url)
        if not parts.hostname or parts.scheme not in {"http", "https"} or (
                parts.scheme == "http" and not is_loopback(parts.hostname)):
            problems.append("XAPI_LRS_URL must be an https URL (plain http only on loopback)")
    if not 1 <= config.xapi_batch_size <= 5000:
        problems.append("XAPI_BATCH_SIZE must be between 1 and 5000")
    if config.xapi_timeout_seconds <= 0 or config.xapi_retry_max_seconds < 1:
        problems.append("XAPI_TIMEOUT_SECONDS and XAPI_RETRY_MAX_SECONDS must be positive")
    return problems


def load_config(environ: dict[str, str] | None = None, **overrides) -> Config:
    """Build the configuration from the environment (``os.environ`` by default)."""
    environ = os.environ if environ is None else environ
    values: dict = {}
    for env_name, (name, parse) in ENV_TABLE.items():
        raw = environ.get(env_name)
        if raw is not None and raw != "":
            try:
                values[name] = parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{env_name} has an invalid value: {exc}.") from exc
    if values.get("app_env") == "production" and "RUN_WORKER_THREAD" not in environ:
        values["run_worker_thread"] = False  # production runs the Procfile's worker process
    values.update(overrides)
    known = {f.name for f in fields(Config)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"Unknown settings: {', '.join(sorted(unknown))}.")
    config = Config(**values)
    missing = [name for name in SECRETS if not getattr(config, name)]
    unset = [env for name, env in PRODUCTION_REQUIRED.items() if not getattr(config, name)]
    if config.is_production and (missing or unset or not config.mongodb_uri):
        required = [SECRET_ENV[m] for m in missing] + unset + (
            [] if config.mongodb_uri else ["MONGODB_URI"])
        names = ", ".join(required)
        raise ConfigError(f"Production start refused: set {names} in the environment.")
    if missing:
        config = replace(config, generated_secrets=tuple(missing), **_dev_secrets(missing))
    validate(config)
    return config
