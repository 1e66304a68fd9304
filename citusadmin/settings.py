"""Django settings for citusadmin. Every value an operator may change is a CITUSADMIN_* variable."""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from citusadmin.env import env_bool, env_int, env_list, env_secret, env_str, env_url, secure_var_dir
from citusadmin.fs_broker import transport_options as fs_transport_options

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
# Everything the console writes in VAR_DIR (its database with sessions and password hashes, keys,
# logs, the broker's messages) is private to its user: new files 0600, the folder 0700, and files an
# older version left readable are tightened now; the system check citusadmin.E010 reports what is not.
secure_var_dir(VAR_DIR)

DEBUG = env_bool("DEBUG", False)
# Behind TLS in production (the default). The embedded run command sets it to false for http://localhost.
HTTPS = env_bool("HTTPS", True)

SECRET_KEY = env_secret(
    "SECRET_KEY",
    generate_into=VAR_DIR / "secret_key",
    generator=lambda: secrets.token_urlsafe(64),
)
# Fernet keys (comma separated, newest first) that encrypt cluster passwords at rest.
ENCRYPTION_KEYS = [
    key.strip()
    for key in env_secret(
        "ENCRYPTION_KEYS",
        generate_into=VAR_DIR / "encryption_key",
        generator=lambda: Fernet.generate_key().decode(),
    ).split(",")
    if key.strip()
]

# HMAC keys of the audit chain (comma separated, newest first; older ones verify older entries), kept
# outside the database, so someone who can write the database still cannot forge an entry.
AUDIT_KEYS = [
    key.strip()
    for key in env_secret(
        "AUDIT_KEYS",
        generate_into=VAR_DIR / "audit_key",
        generator=lambda: secrets.token_urlsafe(48),
    ).split(",")
    if key.strip()
]
# Signed checkpoints of the chain's head, appended outside the database after every entry (and logged
# to the logger "citusadmin.audit.checkpoint"): deleting the newest entries is detected against them.
AUDIT_CHECKPOINT_FILE = Path(env_str("AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit-checkpoints.log")))

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # the API's docs page, served from its own static files
    "axes",
    "citusadmin",
    "accounts",
    "audit",
    "clusters",
    "nodes",
    "tables",
    "jobs",
    "monitoring",
    "selfservice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "citusadmin.middleware.ApiProblemMiddleware",
    "citusadmin.middleware.RequestContextMiddleware",
    "citusadmin.middleware.RejectNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "citusadmin.middleware.HtmxLoginRedirectMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "citusadmin.middleware.CitusErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "citusadmin.urls"
WSGI_APPLICATION = "citusadmin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "clusters.context_processors.clusters",
                "selfservice.context_processors.inbox",
                "jobs.context_processors.workers",
            ],
        },
    },
]

# The app's own database: SQLite by default (embedded), PostgreSQL when a URL is given.
# SQLite, however it is named: writers take the write lock at BEGIN (IMMEDIATE) and wait up to 20 s
# for it. A deferred transaction that reads and then writes (the audit chain does) fails at once with
# "database is locked" when another process writes, instead of waiting its turn.
_SQLITE_OPTIONS = {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
_database_url = env_url("DATABASE_URL", ("postgres", "postgresql", "sqlite"))
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        DATABASES["default"]["OPTIONS"] = {**_SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "citusadmin.sqlite3"),
            "OPTIONS": dict(_SQLITE_OPTIONS),
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# "default": per process (sessions use the database). "shared": seen by every web process, for figures
# that reach every node (monitoring.shared): Redis when the console uses Redis, else files in VAR_DIR.
CACHES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")},
}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling (django-axes): lock a username+address pair after repeated failures.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# Sessions: an absolute lifetime plus an idle timeout (accounts.middleware.IdleTimeoutMiddleware).
SESSION_COOKIE_AGE = env_int("SESSION_MAX_AGE_SECONDS", 12 * 3600, minimum=300)
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_SECONDS", 30 * 60, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A strict Content-Security-Policy: no inline script or style, nothing from another origin.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # collectstatic fills it; WhiteNoise serves from finders too
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Celery ----------------------------------------------------------------------------------
# Redis when CITUSADMIN_REDIS_URL is given; otherwise kombu's filesystem transport under VAR_DIR,
# which needs no server and is enough for one machine.
REDIS_URL = env_url("REDIS_URL", ("redis", "rediss", "unix"))
BROKER_VISIBILITY_TIMEOUT = 6 * 3600
# Jobs: supervisors poll Citus every JOB_POLL_SECONDS in slices of JOB_SUPERVISOR_SLICE_SECONDS and
# hold a lease of JOB_LEASE_SECONDS; blocking work cancels itself before the visibility timeout.
JOB_POLL_SECONDS = env_int("JOB_POLL_SECONDS", 1, minimum=1, maximum=10)
JOB_SUPERVISOR_SLICE_SECONDS = env_int("JOB_SUPERVISOR_SLICE_SECONDS", 45, minimum=5, maximum=300)
# A drain-and-remove waits this long for Citus to drop the drained node's leftovers before removing it.
JOB_CLEANUP_WAIT_SECONDS = env_int("JOB_CLEANUP_WAIT_SECONDS", 120, minimum=5)
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 10, minimum=3, maximum=120)
JOB_BLOCKING_TIME_LIMIT_SECONDS = env_int(
    "JOB_BLOCKING_TIME_LIMIT_SECONDS",
    BROKER_VISIBILITY_TIMEOUT - 900,
    minimum=60,
    maximum=BROKER_VISIBILITY_TIMEOUT - 600,
)
_broker_dir = VAR_DIR / "broker"
# Where web processes and workers share figures: Redis when the console uses Redis (several hosts),
# else files in VAR_DIR (one host). CITUSADMIN_SHARED_CACHE=files keeps the files even with Redis.
SHARED_CACHE = env_str("SHARED_CACHE", "redis" if REDIS_URL else "files")
if SHARED_CACHE not in ("redis", "files") or (SHARED_CACHE == "redis" and not REDIS_URL):
    raise ImproperlyConfigured("CITUSADMIN_SHARED_CACHE must be 'files', or 'redis' with CITUSADMIN_REDIS_URL set.")
if SHARED_CACHE == "redis":
    CACHES["shared"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "citusadmin-shared",
    }
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A task not acknowledged within the visibility timeout is delivered again while the first copy
    # may still run; no task here runs longer than CELERY_TASK_TIME_LIMIT, which stays well below it.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
else:
    # The embedded default: kombu's filesystem transport with atomic publishing (citusadmin.fs_broker
    # says why kombu's own loses messages and kills the worker under concurrent publishers).
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "citusadmin.fs_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = fs_transport_options(_broker_dir)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# Measurements go to their own queue ("<queue>.collect", its own worker under ./run), so a burst of
# collections can never delay a job, and a long job never delays the measurements.
CELERY_TASK_ROUTES = ("citusadmin.broker.route_task",)
# Every worker and beat writes a heartbeat row; none seen for this long and every page says so.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10, minimum=1, maximum=300)
WORKER_STALE_SECONDS = env_int("WORKER_STALE_SECONDS", 60, minimum=5)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_ACKS_LATE = True
# A task killed by a signal is acknowledged, not redelivered: job supervisors re-attach through the
# periodic sweep instead, and blocking work is never re-run by itself.
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 600
CELERY_TASK_SOFT_TIME_LIMIT = 540
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CLUSTER_PROBE_INTERVAL = env_int("PROBE_INTERVAL_SECONDS", 60, minimum=5)
COLLECTOR_INTERVAL = env_int("COLLECTOR_INTERVAL_SECONDS", 60, minimum=5)
COLLECTOR_STATEMENT_TIMEOUT_MS = env_int("COLLECTOR_STATEMENT_TIMEOUT_MS", 60_000, minimum=1000)
HEALTH_CHECK_TIMEOUT_MS = env_int("HEALTH_CHECK_TIMEOUT_MS", 15_000, minimum=1000)
COLLECTION_RETENTION_DAYS = env_int("COLLECTION_RETENTION_DAYS", 30, minimum=1)
# The rebalance preview waits this long for Citus's plan before computing it in the background.
REBALANCE_PREVIEW_INLINE_MS = env_int("REBALANCE_PREVIEW_INLINE_MS", 700, minimum=1)
# Tables larger than this are distributed by a job (create_distributed_table_concurrently where possible).
DISTRIBUTE_JOB_BYTES = env_int("DISTRIBUTE_JOB_BYTES", 50 * 1024 * 1024, minimum=0)
# Data skew between nodes (bytes or shard counts) above this percentage of the mean raises a banner.
SKEW_THRESHOLD_PERCENT = env_int("SKEW_THRESHOLD_PERCENT", 20, minimum=1)
# Is each node reachable now: one probe per cluster this often, shared by every page (monitoring.reach).
REACH_PROBE_SECONDS = env_int("REACH_PROBE_SECONDS", 5, minimum=2)
CELERY_BEAT_SCHEDULE = {
    "probe-reachability": {
        "task": "monitoring.tasks.probe_reachability",
        "schedule": REACH_PROBE_SECONDS,
        "options": {"expires": REACH_PROBE_SECONDS},  # queued while the worker was away: dropped, not piled up
    },
    "probe-clusters": {"task": "clusters.tasks.probe_all_clusters", "schedule": CLUSTER_PROBE_INTERVAL},
    "watch-patroni": {
        "task": "clusters.tasks.watch_patroni",
        "schedule": REACH_PROBE_SECONDS,
        "options": {"expires": REACH_PROBE_SECONDS},
    },
    "collect-clusters": {"task": "monitoring.tasks.collect_all", "schedule": COLLECTOR_INTERVAL},
    "sweep-jobs": {"task": "jobs.tasks.sweep", "schedule": env_int("JOB_SWEEP_SECONDS", 5, minimum=1)},
    "alerts": {
        "task": "monitoring.tasks.alerts",
        "schedule": env_int("ALERT_EVALUATE_SECONDS", 30, minimum=5),
        "options": {"expires": 60},
    },
}

# --- Citus gateway ---------------------------------------------------------------------------
CITUS_STATEMENT_TIMEOUT_MS = env_int("CITUS_STATEMENT_TIMEOUT_MS", 10_000, minimum=100)
CITUS_LOCK_TIMEOUT_MS = env_int("CITUS_LOCK_TIMEOUT_MS", 2_000, minimum=10)
CITUS_NODE_CONNECTION_TIMEOUT_MS = env_int("CITUS_NODE_CONNECTION_TIMEOUT_MS", 2_000, minimum=100)
CITUS_CONNECT_TIMEOUT_S = env_int("CITUS_CONNECT_TIMEOUT_SECONDS", 5, minimum=1, maximum=60)
CITUS_POOL_MAX_SIZE = env_int("CITUS_POOL_MAX_SIZE", 4, minimum=1, maximum=50)
CITUS_CAPABILITY_CACHE_SECONDS = env_int("CITUS_CAPABILITY_CACHE_SECONDS", 300, minimum=0)
# Where `manage.py citus_sandbox` keeps its local cluster.
# ./run starts and registers a local sandbox cluster when Citus is installed; off for production.
SANDBOX_ENABLED = env_bool("SANDBOX", True)
# As root, PostgreSQL runs as the postgres user, which cannot enter the private VAR_DIR: the sandbox
# (no secrets of the console in it) then lives in postgres's home, one folder per VAR_DIR.
_sandbox_default = VAR_DIR / "sandbox"
if os.geteuid() == 0:
    _pg_home = Path("/var/lib/postgresql") if Path("/var/lib/postgresql").is_dir() else Path(tempfile.gettempdir())
    _sandbox_default = _pg_home / f"citusadmin-sandbox-{hashlib.sha256(str(VAR_DIR).encode()).hexdigest()[:10]}"
SANDBOX_DIR = Path(env_str("SANDBOX_DIR", str(_sandbox_default)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# E-mail for notifications: off unless CITUSADMIN_EMAIL_HOST is set (in-app notifications always work).
# Without it MAILERS stays undefined and nothing is ever sent.
_email_host = env_str("EMAIL_HOST", "")
NOTIFY_BY_EMAIL = bool(_email_host)
_email_password_given = bool(env_str("EMAIL_PASSWORD", "") or env_str("EMAIL_PASSWORD_FILE", ""))
DEFAULT_FROM_EMAIL = env_str("EMAIL_FROM", "citusadmin@localhost")
if _email_host:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": env_int("EMAIL_PORT", 587, minimum=1, maximum=65535),
                "username": env_str("EMAIL_USER", ""),
                "password": env_secret("EMAIL_PASSWORD") if _email_password_given else "",
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 10,
            },
        }
    }

# Monitoring pages that reach every node (activity, lock waits, tenants, health): one statement each,
# bounded so that a hung worker costs about a second and the page still answers in under 3 s.
MONITORING_STATEMENT_TIMEOUT_MS = env_int("MONITORING_STATEMENT_TIMEOUT_MS", 2_500, minimum=200)
MONITORING_NODE_TIMEOUT_MS = env_int("MONITORING_NODE_TIMEOUT_MS", 1_000, minimum=100)
MONITORING_REFRESH_SECONDS = env_int("MONITORING_REFRESH_SECONDS", 10, minimum=2)
# A monitoring figure that reaches every node is computed at most once per cluster this often, whoever
# asks (monitoring.shared); 0 computes it for every request.
MONITORING_SHARE_SECONDS = env_int("MONITORING_SHARE_SECONDS", MONITORING_REFRESH_SECONDS, minimum=0)
# Patroni-managed clusters: a replica further behind its leader than this is flagged on the HA page
# and refused as a switchover candidate; the HA figures are shared between viewers this long.
PATRONI_LAG_WARN_BYTES = env_int("PATRONI_LAG_WARN_BYTES", 16 * 1024 * 1024, minimum=0)
PATRONI_SHARE_SECONDS = env_int("PATRONI_SHARE_SECONDS", 3, minimum=0)
# /metrics (Prometheus): off unless a token (Authorization: Bearer) or allowed addresses are set.
METRICS_TOKEN = env_str("METRICS_TOKEN") or (
    Path(env_str("METRICS_TOKEN_FILE")).read_text().strip() if env_str("METRICS_TOKEN_FILE") else ""
)
METRICS_ALLOW = [a.strip() for a in env_str("METRICS_ALLOW").split(",") if a.strip()]
METRICS_TOP_TABLES = env_int("METRICS_TOP_TABLES", 20, minimum=0)
# Alerts (monitoring.alerts): evaluated by beat this often; delivered to these webhooks ("format=url",
# format json, slack or teams; comma-separated) and e-mail addresses, signed with this secret.
ALERT_EVALUATE_SECONDS = env_int("ALERT_EVALUATE_SECONDS", 30, minimum=5)
ALERT_WEBHOOKS: list[tuple[str, str]] = []
for _hook in env_str("ALERT_WEBHOOKS").split(","):
    _hook = _hook.strip()
    if not _hook:
        continue
    _fmt, _sep, _url = _hook.partition("=") if "=" in _hook.split("://")[0] else ("json", "", _hook)
    if _fmt not in ("json", "slack", "teams") or not _url.startswith(("http://", "https://")):
        raise ImproperlyConfigured("CITUSADMIN_ALERT_WEBHOOKS: each entry is [json|slack|teams=]http(s)://...")
    ALERT_WEBHOOKS.append((_fmt, _url))
ALERT_EMAIL_TO = [a.strip() for a in env_str("ALERT_EMAIL_TO").split(",") if a.strip()]
ALERT_WEBHOOK_SECRET = env_secret(
    "ALERT_WEBHOOK_SECRET", generate_into=VAR_DIR / "alert-webhook-secret", generator=lambda: secrets.token_hex(32)
)
ALERT_RETRY_BASE_SECONDS = env_int("ALERT_RETRY_BASE_SECONDS", 5, minimum=1)
# /api/v1/: calls a minute per token (writes: a fifth of it); tokens live at most this many days.
API_RATE_PER_MINUTE = env_int("API_RATE_PER_MINUTE", 600, minimum=1)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365, minimum=1)
# The query workbench: EXPLAIN and EXPLAIN ANALYZE stop after this long.
WORKBENCH_TIMEOUT_MS = env_int("WORKBENCH_TIMEOUT_MS", 10_000, minimum=100)
# At most this many such figures (any tab, any options) are computed at once per cluster, across every
# web process; a viewer who finds them all busy sees the last figure, with its time.
MONITORING_FANOUTS_PER_CLUSTER = env_int("MONITORING_FANOUTS_PER_CLUSTER", 2, minimum=1)
# Per-table history is kept at every collection for this long, then one collection an hour.
HISTORY_FULL_RESOLUTION_HOURS = env_int("HISTORY_FULL_RESOLUTION_HOURS", 24, minimum=1)
