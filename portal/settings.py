"""Django settings for Switchboard, read from the environment.

Two runtime profiles share this file (see DESIGN.md, "Runtime profiles"):

* quickstart (nothing configured): the PostgreSQL and Redis servers that
  ``make run`` starts from wheels (``embedded_servers``), data and sockets under
  ``var/``, console email.
* test: the same servers in a temporary folder (``make test``), or any
  ``DATABASE_URL``/``REDIS_URL``.
* production: ``DATABASE_URL`` (PostgreSQL, psycopg 3 pool) and ``REDIS_URL``
  (Celery broker and cache) of the operator. ``DJANGO_ENV=production`` adds the
  safety checks below and refuses to start with an unsafe value.

It is one long module because operators read settings top to bottom: every
setting, its environment variable and its production rule stay in one place
(capabilities declare their own in their `CapabilityConfig.default_settings`).
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from embedded_servers.layout import Layout, broker_url

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="quickstart")
if DJANGO_ENV not in {"quickstart", "production", "test"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be quickstart, production or test, not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

# Where the quickstart keeps its servers' data, uploads and the emulator's state.
VAR_DIR = Path(env.str("SWITCHBOARD_VAR_DIR", default=str(BASE_DIR / "var")))

INSECURE_SECRET_KEY = "insecure-quickstart-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "django_tables2",
    "django_filters",
    "django_celery_beat",
    "axes",
    "csp",
    "portal",
    "metering",
    "capabilities",
    "billing",
    "capabilities.approvals",  # requests to switch capabilities, and their approval
    # Capability apps: each one is a Django app whose AppConfig subclasses
    # capabilities.registry.CapabilityConfig (added by later issues).
    "capabilities.notifications",
    "capabilities.contracts",
    "capabilities.documents",
    "capabilities.reports",
    "capabilities.qa",
    "demo",  # the quickstart's `manage.py seed_demo` (refuses production)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF, which reads a form's body: bodies over their view's limits
    # are refused with 413 before (or while) they are read.
    "portal.uploads.UploadLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.middleware.CurrentOrganizationMiddleware",
    "capabilities.middleware.CapabilityGateMiddleware",
    "metering.middleware.ApiCallMeteringMiddleware",
    # Axes goes last so it sees the outcome of every login attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

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
                "portal.context_processors.navigation",
                "portal.context_processors.alert_banner",
                "capabilities.context_processors.capability_navigation",
                "capabilities.approvals.context_processors.requests_badge",
                "billing.context_processors.payment_standing",
            ],
        },
    },
]
FORM_RENDERER = "portal.forms_rendering.PortalFormRenderer"

# --- database, cache and Celery ----------------------------------------------
# One stack everywhere: PostgreSQL and Redis. With nothing configured (the
# quickstart) they are the embedded servers `make run` starts, reached over
# Unix sockets under var/ (embedded_servers.layout); the suite runs its own
# the same way (`make test`). Production points DATABASE_URL and REDIS_URL at
# the operator's servers.
QUICKSTART_SERVERS = Layout(VAR_DIR)
_default_urls = DJANGO_ENV == "quickstart"
DATABASE_URL = env.str("DATABASE_URL", default=QUICKSTART_SERVERS.database_url if _default_urls else "")
REDIS_URL = env.str("REDIS_URL", default=QUICKSTART_SERVERS.redis_url if _default_urls else "")
if DJANGO_ENV == "test" and not (DATABASE_URL and REDIS_URL):
    raise ImproperlyConfigured(
        "The test profile needs DATABASE_URL and REDIS_URL: run the suite with `make test`, "
        "which starts its own PostgreSQL and Redis (or set TEST_DATABASE_URL / TEST_REDIS_URL)."
    )
DATABASES = {"default": env.db_url_config(DATABASE_URL)} if DATABASE_URL else {}
if DATABASES and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DATABASE_URL must point at PostgreSQL (15 or newer): the one database we run on."
    )
if DATABASES:
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if env.bool("DATABASE_POOL", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", default=2),
            "max_size": env.int("DATABASE_POOL_MAX", default=10),
            "timeout": 10,
        }
    # The statements every job runs (portal.db.prepared_cursor) are prepared
    # once per connection; Django's other queries bind client-side, which
    # never prepares. Off for a pooler that cannot keep prepared statements
    # (PgBouncer in transaction mode before 1.21).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "switchboard",
    }
}
# kombu spells a Unix-socket Redis differently from redis-py (broker_url).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=broker_url(REDIS_URL))
# A message taken by a worker that dies unacknowledged (acks_late) is handed
# out again after this many seconds; workers sweep for such messages often
# enough that a short timeout is honoured.
_visibility = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
    "visibility_timeout": _visibility,
    "unacked_restore_interval": min(10, max(1, _visibility // 3)),
    "unacked_restore_throttle": 1 if _visibility < 600 else 10,
}

# Celery's Django fixup closes database connections (and, on prefork, the whole
# psycopg pool) around every task unless told to reuse them: reuse a worker's
# connections for this many tasks (Django still drops broken ones).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker reserves one message per process: with acks_late, the one it runs.
# A killed worker then strands nothing it had not started (README "Jobs").
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=1)

# --- jobs: the row is the record, the message a nudge (capabilities/runner.py) -----
# The sweep runs this often (beat).
JOB_SWEEP_INTERVAL = env.float("JOB_SWEEP_INTERVAL", default=30.0)
# A queued job unclaimed this many seconds after its message was sent is sent
# again (then after twice as long, up to 32 times as long).
JOB_REQUEUE_GRACE = env.float("JOB_REQUEUE_GRACE", default=30.0)
# A running job's worker holds it this long and renews it every
# JOB_LEASE_RENEW seconds; an expired lease means the worker died.
JOB_LEASE_SECONDS = env.float("JOB_LEASE_SECONDS", default=60.0)
JOB_LEASE_RENEW = env.float("JOB_LEASE_RENEW", default=15.0)

# --- capability health (capabilities/degraded.py, /metrics) ----------------------
# A capability is degraded while this share (percent) or more of at least
# CAPABILITY_DEGRADED_MIN_JOBS jobs finished in the last CAPABILITY_DEGRADED_WINDOW
# seconds failed; beat assesses every minute.
CAPABILITY_DEGRADED_FAILURE_PERCENT = env.int("CAPABILITY_DEGRADED_FAILURE_PERCENT", default=50)
CAPABILITY_DEGRADED_MIN_JOBS = env.int("CAPABILITY_DEGRADED_MIN_JOBS", default=10)
CAPABILITY_DEGRADED_WINDOW = env.int("CAPABILITY_DEGRADED_WINDOW", default=900)
# /metrics answers scrapes that send `Authorization: Bearer <METRICS_TOKEN>`;
# unset, /metrics is off (404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- API-call usage (metering/api_calls.py) ------------------------------------
# Each web process writes the API calls it counted to PostgreSQL this often
# (seconds): a process killed without warning loses at most this much. 0 turns
# the background writer off (tests write with api_calls.write_counts()).
API_CALLS_WRITE_INTERVAL = env.float("API_CALLS_WRITE_INTERVAL", default=1.0)
# A job whose worker died this many times fails, unbilled.
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
# Flag evaluations over OFREP (/ofrep/v1/...) one credential may make a second
# in each web process; above it they are answered 429 with Retry-After.
OFREP_RATE_LIMIT = env.int("OFREP_RATE_LIMIT", default=5000)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {
        "task": "capabilities.sweep_jobs",
        "schedule": JOB_SWEEP_INTERVAL,
    },
    # Scheduled switches are carried out within a minute of their moment.
    "apply-scheduled-switches": {
        "task": "capabilities.apply_schedules",
        "schedule": 60.0,
    },
    "assess-capability-health": {
        "task": "capabilities.assess_health",
        "schedule": 60.0,
    },
    "worker-heartbeat": {
        "task": "portal.tasks.record_heartbeat",
        "schedule": 30.0,
    },
    "recompute-budgets": {
        "task": "metering.recompute_budgets",
        "schedule": 60.0,
    },
    "flush-api-calls": {
        "task": "metering.flush_api_calls",
        "schedule": 60.0,
    },
    "refresh-platform-usage": {
        "task": "metering.refresh_platform_usage",
        "schedule": timedelta(minutes=10),
    },
    "detect-usage-anomalies": {
        "task": "metering.detect_anomalies",
        # Shortly after midnight UTC, once the day's last API calls are flushed;
        # the task catches up on days it missed.
        "schedule": crontab(hour=0, minute=15),
    },
    "expire-invitations": {
        "task": "portal.tasks.expire_invitations",
        "schedule": timedelta(hours=1),
    },
    "deliver-pending-alerts": {
        "task": "portal.tasks.deliver_pending_alerts",
        "schedule": timedelta(minutes=5),
    },
    "prune-idempotency-keys": {
        "task": "portal.tasks.prune_idempotency_keys",
        "schedule": timedelta(hours=1),
    },
    "billing-push-usage": {
        "task": "billing.push_usage",
        "schedule": float(
            env.int("BILLING_PUSH_INTERVAL", default=30 if DJANGO_ENV == "quickstart" else 300)
        ),
    },
    "billing-sync": {
        "task": "billing.sync",
        "schedule": timedelta(hours=1),
    },
    # A reconciliation asked for from the finance page whose message was lost.
    "billing-resend-waiting-reconciliations": {
        "task": "billing.resend_waiting_reconciliations",
        "schedule": JOB_SWEEP_INTERVAL,
    },
    "billing-reconcile": {
        "task": "billing.reconcile_daily",
        "schedule": crontab(hour=3, minute=30),
    },
    "expire-capability-requests": {
        "task": "approvals.expire_requests",
        "schedule": timedelta(hours=1),
    },
    "billing-enforce-grace": {
        "task": "billing.enforce_grace",
        "schedule": timedelta(hours=1),
    },
}

# --- billing (Stripe) ----------------------------------------------------------
# Unset key: nothing goes to Stripe and usage waits in the push backlog.
# STRIPE_API_BASE points the SDK at the offline emulator (`make run` does so
# when no key is set); leave it empty to talk to Stripe itself.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# scripts/quickstart's webhook secret for the emulator: published, so anyone
# could sign events with it; production refuses it.
QUICKSTART_WEBHOOK_SECRET = "whsec_quickstart_emulator"  # noqa: S105
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
# A usage window (an hour) is pushed this many seconds after it ends.
BILLING_PUSH_CLOSE_DELAY = env.int("BILLING_PUSH_CLOSE_DELAY", default=300)
# The quickstart pushes the hour in progress too (every 30 s, BILLING_PUSH_INTERVAL),
# so a job's usage is on the emulator a minute later instead of after the hour.
BILLING_PUSH_OPEN_HOUR = env.bool("BILLING_PUSH_OPEN_HOUR", default=DJANGO_ENV == "quickstart")
BILLING_PUSH_LOCK_SECONDS = env.int("BILLING_PUSH_LOCK_SECONDS", default=900)
# Reconciliation compares usage older than this (Stripe's summaries lag).
BILLING_SETTLING_DELAY = env.int("BILLING_SETTLING_DELAY", default=3600)
# Days a failed payment may stay unpaid before paid capabilities are restricted.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)

# --- authentication ----------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if DJANGO_ENV == "test":
    # Tests create many users; a fast hash keeps the suite quick. Never outside tests.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3
INVITATION_TTL = timedelta(days=env.int("INVITATION_TTL_DAYS", default=7))
# A request to switch a capability that nobody decides on expires after this
# (capabilities.approvals; beat marks it expired and tells the requester).
CAPABILITY_REQUEST_TTL = timedelta(days=env.int("CAPABILITY_REQUEST_TTL_DAYS", default=7))

# Login throttling (django-axes): lock a username+IP pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The sign-in form posts the email in the field Django names "username".
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "portal.throttling.sign_in_username"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Behind a reverse proxy, set PROXY_COUNT so the client address (for throttling
# and the audit log) comes from X-Forwarded-For instead of the proxy's address,
# and so production trusts X-Forwarded-Proto (without a proxy in front, anyone
# could send it and be taken for HTTPS).
PROXY_COUNT = env.int("PROXY_COUNT", default=0)
if PROXY_COUNT:
    # Each proxy appends the address it was connected from, so behind N proxies
    # X-Forwarded-For ends with the client and N-1 proxies (the last proxy is
    # REMOTE_ADDR): ipware counts only those N-1. Not strict, so what a client
    # writes into the header itself (left of its address) is passed over instead
    # of voiding the header.
    AXES_IPWARE_PROXY_COUNT = PROXY_COUNT - 1
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    IPWARE_STRICT = False

# --- email -------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Switchboard <noreply@switchboard.test>")
# Seconds an SMTP connection may block (Django's SMTP backend honours it).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# The portal's address as people reach it: links in emails that workers send
# (alerts), where there is no request to read it from.
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- alerts webhook ----------------------------------------------------------
# An organization's alerts webhook (portal.alerts): seconds to connect and to
# wait for each read of the answer; seconds before each retry of a failed
# call (attempts = len + 1, beat runs the retries every few minutes); and
# whether it may post to private, loopback or link-local addresses (SSRF into
# the portal's network: refused in production, allowed for the quickstart and
# tests, which post to localhost).
ALERT_WEBHOOK_CONNECT_TIMEOUT = env.float("ALERT_WEBHOOK_CONNECT_TIMEOUT", default=3.0)
ALERT_WEBHOOK_READ_TIMEOUT = env.float("ALERT_WEBHOOK_READ_TIMEOUT", default=10.0)
ALERT_WEBHOOK_RETRY_DELAYS = env.list(
    "ALERT_WEBHOOK_RETRY_DELAYS", cast=int, default=[60, 300, 1800, 7200, 21600]
)
ALERT_WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("ALERT_WEBHOOK_ALLOW_PRIVATE_TARGETS", default=not PRODUCTION)

# --- i18n, static ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Uploaded files (Documents): through Django's storage API, so object storage
# can replace the file system by changing STORAGES["default"].
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Outside production, serve straight from the source folders: no collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# --- Uploads: request bodies are bounded while they stream (portal/uploads.py) ---
# Views that take files declare their limits; every other view takes bodies up
# to UPLOAD_MAX_REQUEST_MB, with files no larger than Django keeps in memory.
FILE_UPLOAD_HANDLERS = [
    "portal.uploads.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
UPLOAD_MAX_REQUEST_MB = env.int("UPLOAD_MAX_REQUEST_MB", default=10)

# --- Capability settings ------------------------------------------------------
# Each capability declares its settings (CapabilityConfig.default_settings);
# operators set them as <KEY>_<NAME> environment variables
# (DOCUMENTS_MAX_UPLOAD_MB=50). This overrides them in a settings file or a
# test: {"documents": {"MAX_UPLOAD_MB": 50}}.
CAPABILITY_SETTINGS: dict[str, dict[str, object]] = {}

# --- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.OrganizationApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every API view: authenticated, a capability's routes only while it is on,
    # and acting for an active organization the caller belongs to (API key or
    # member). The system check portal.E002 fails for a view under /api/v1/ that
    # drops these without a `tenancy_opt_out` reason.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "capabilities.api.permissions.CapabilityEnabledForRoute",
        "portal.api.permissions.OrganizationMember",
    ],
    # drf-spectacular's, plus the Idempotency-Key header of the writes that take it.
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# `Idempotency-Key` on API writes (portal/idempotency.py): a request still marked
# in progress after this many seconds is taken for one whose process died; its
# outcome is unknown and the key is never run again.
IDEMPOTENCY_STALE_AFTER = env.int("IDEMPOTENCY_STALE_AFTER", default=300)
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": (
        "Organization-scoped API of the Switchboard portal. Authenticate with an "
        "organization API key (`Authorization: Api-Key <key>`) or a browser session."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Requests and responses get their own components: files are binary parts,
    # read-only fields stay out of requests, non-blank strings say minLength 1.
    "COMPONENT_SPLIT_REQUEST": True,
    # The shared Error schema and error responses every operation refers to.
    # Budgets' `action` (stop, alert) beside other fields named `action`.
    "ENUM_NAME_OVERRIDES": {
        "BudgetActionEnum": "metering.models.Budget.Action",
        # A capability release's channel, the organization's and a version's.
        "ReleaseChannelEnum": "capabilities.registry.CHANNEL_CHOICES",
        # A notification rule's channel (email, webhook).
        "NotificationChannelEnum": "capabilities.notifications.models.Channel",
    },
    # Its deploy check builds the whole schema, which reads the capability
    # registry (external capabilities are database rows): `check --deploy` must
    # not need the database. tests/portal/test_api_schema.py builds the schema
    # and fails on any warning instead.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.api.schema.add_error_components",
    ],
}

# --- security headers --------------------------------------------------------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "portal.views.errors.csrf_failure"

if PRODUCTION:
    if PROXY_COUNT > 0:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if not SECURE_HSTS_PRELOAD:
        # Opting out of the preload list is a deliberate choice, not an oversight.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

    _problems = []
    if DEBUG:
        _problems.append("DEBUG must be off")
    if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 50:
        _problems.append("SECRET_KEY must be set to a random value of 50+ characters")
    if not ALLOWED_HOSTS:
        _problems.append("ALLOWED_HOSTS must list the portal's host names")
    if not DATABASE_URL:
        _problems.append("DATABASE_URL must point at PostgreSQL")
    if not REDIS_URL:
        _problems.append("REDIS_URL must point at Redis")
    if STRIPE_SECRET_KEY and not STRIPE_WEBHOOK_SECRET:
        _problems.append("STRIPE_WEBHOOK_SECRET must be set with STRIPE_SECRET_KEY (webhooks are verified)")
    if STRIPE_WEBHOOK_SECRET == QUICKSTART_WEBHOOK_SECRET:
        _problems.append(
            "STRIPE_WEBHOOK_SECRET must be the endpoint's own secret, not the quickstart's published one"
        )
    if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
        _problems.append("METRICS_TOKEN must be a random value of 32+ characters (or unset: /metrics off)")
    if STRIPE_API_BASE:
        _problems.append(
            "STRIPE_API_BASE must be empty (it points the SDK at the offline emulator, not Stripe)"
        )
    if PROXY_COUNT < 0:
        _problems.append("PROXY_COUNT must be 0 (no proxy in front) or the number of proxies")
    if _problems:
        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(_problems) + ".")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.security.DisallowedHost": {"level": "ERROR"},
        "axes": {"level": "WARNING"},
        # The Stripe SDK logs two INFO lines per call, with customer ids in the URLs.
        "stripe": {"level": "WARNING"},
    },
}
