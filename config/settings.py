"""MLMeta settings: one module, driven by environment variables (see the README's table).

Development defaults run on a laptop with nothing else installed: SQLite under var/,
an embedded Celery broker on the filesystem and secrets generated once into var/.
With MLMETA_ENV=production every development default is refused and the missing
variable is named.
"""

import json
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.envcheck import EnvReader, parse_key_list

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.FileAwareEnv()
read = EnvReader(env)

MLMETA_ENV = read.choice("MLMETA_ENV", ("development", "production"), "development")
PRODUCTION = MLMETA_ENV == "production"
VAR_DIR = Path(read.str("MLMETA_VAR_DIR", str(BASE_DIR / "var")))
MLMETA_VERSION = "0.1.0"
ZENML_API_VERSION = "0.98.0"


def _dev_secret(name: str, filename: str, factory) -> str:
    """Return the variable's value, or in development a value generated once into var/."""
    value = read.str(name, "")
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when MLMETA_ENV=production.")
    path = VAR_DIR / filename
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(factory())
        path.chmod(0o600)
    return path.read_text().strip()


def _new_aes_key() -> str:
    import base64

    return "k1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _new_rsa_key() -> str:
    """A PEM RSA private key: signs the ID tokens MLMeta issues as an OpenID Connect provider."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


SECRET_KEY = _dev_secret("SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(50))
JWT_SECRET_KEY = _dev_secret("MLMETA_JWT_SECRET_KEY", "jwt_secret_key", lambda: secrets.token_urlsafe(50))
# Secret-value encryption keys, "id:base64key" separated by commas; the first one is active.
SECRETS_ENCRYPTION_KEYS = parse_key_list(
    "MLMETA_SECRETS_KEYS", _dev_secret("MLMETA_SECRETS_KEYS", "secrets_keys", _new_aes_key)
)
# Where secret values are kept, by the backend name a tenant (and each secret) records.
SECRETS_BACKENDS = {
    "sql": "secrets_app.backends.sql.SqlBackend",
    "openbao": "secrets_app.backends.openbao.OpenBaoBackend",
}
# What one secret may hold (UTF-8 bytes): a larger value, or a larger secret, is refused with a 422.
SECRETS_MAX_VALUE_BYTES = read.positive_int("MLMETA_SECRETS_MAX_VALUE_BYTES", 64 * 1024)
SECRETS_MAX_SECRET_BYTES = read.positive_int("MLMETA_SECRETS_MAX_SECRET_BYTES", 1024 * 1024)
# Service connector types the server implements (secrets_app/connectors), by connector_type.
SERVICE_CONNECTOR_TYPES = {
    "aws": "secrets_app.connectors.aws.AWSConnector",
    "kubernetes": "secrets_app.connectors.kubernetes.KubernetesConnector",
    "docker": "secrets_app.connectors.docker.DockerConnector",
    "generic": "secrets_app.connectors.generic.GenericConnector",
}

# Off unless asked for: `make run` is a real server, and debug pages show settings and tracebacks.
DEBUG = read.bool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be false when MLMETA_ENV=production.")
ALLOWED_HOSTS = read.list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when MLMETA_ENV=production.")
CSRF_TRUSTED_ORIGINS = read.list("CSRF_TRUSTED_ORIGINS", [])
PORT = read.port("PORT", 8000)
# The URL clients and browsers reach this server at; used in links and /api/v1/info.
SERVER_URL = read.str("MLMETA_SERVER_URL", f"http://127.0.0.1:{PORT}").rstrip("/")

INSTALLED_APPS = [
    "tenants.admin_apps.MLMetaAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "django_celery_beat",
    "axes",
    "core",
    "tenants",
    "secrets_app",
    "mlmeta",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenants.middleware.TenantMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tenants.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]
# `make bench` only: a header counting the SQL queries of each request (core/bench.py).
if read.bool("MLMETA_BENCH_QUERY_COUNT", False):
    MIDDLEWARE.insert(0, "core.bench.QueryCountMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "tenants.context_processors.tenant",
            ],
        },
    },
]

# Database: SQLite under var/ by default (WAL, busy timeout, immediate transactions so
# concurrent writers wait instead of failing); PostgreSQL through DATABASE_URL.
_default_db = f"sqlite:///{VAR_DIR / 'mlmeta.sqlite3'}"
if PRODUCTION and not read.str("DATABASE_URL", ""):
    raise ImproperlyConfigured("DATABASE_URL must be set when MLMETA_ENV=production.")
DATABASES = {"default": read.db("DATABASE_URL", _default_db)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Parameters bound on the server, so psycopg prepares a statement the fifth time a
    # connection runs it and PostgreSQL stops planning it: planning was 4-5 ms of a runs page's
    # 7 queries (bench/RESULTS.md). Off behind a pooler in transaction mode that cannot keep
    # prepared statements (PgBouncer before 1.21).
    if read.bool("DATABASE_PREPARED_STATEMENTS", True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tenants.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Login rate limiting (django-axes, see tenants/lockout.py): after AXES_FAILURE_LIMIT failed logins
# for one username, or separately from one address, logins are refused for the cool-off time.
AUTHENTICATION_BACKENDS = [
    "tenants.lockout.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = read.positive_int("MLMETA_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=read.positive_int("MLMETA_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_DISABLE_ACCESS_LOG = True  # successful logins are in the audit trail
AXES_LOCKOUT_CALLABLE = "tenants.lockout.lockout_response"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not PRODUCTION

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = read.bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "SAMEORIGIN"
# Content-Security-Policy (django-csp) on every response: scripts and styles only from our own
# static files, so an escaped-but-missed payload cannot run. A view that sends its own, stricter
# header keeps it (the artifact visualization frame's sandbox policy); the Django admin works
# under this policy as it is (its templates have no inline script or style attributes).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "frame-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [SELF],
    }
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Default deny: every API view needs an authenticated member of the URL's tenant unless it
# says otherwise (only /info, /version, /login and the device flow do).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.authentication.JWTAuthentication",
        "tenants.oauth.OAuth2Authentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.IsTenantMember", "tenants.oauth.TokenHasMethodScope"],
    "DEFAULT_RENDERER_CLASSES": ["core.api.renderers.ZenJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [],
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Lifetime of API tokens from the password and API-key grants; the client logs in again by itself.
JWT_EXPIRE_SECONDS = read.positive_int("MLMETA_JWT_EXPIRE_SECONDS", 24 * 3600)
# Devices logged in through `zenml login URL` (device flow): how long their tokens last.
MLMETA_DEVICE_EXPIRE_SECONDS = read.positive_int("MLMETA_DEVICE_EXPIRE_SECONDS", JWT_EXPIRE_SECONDS)
MLMETA_TRUSTED_DEVICE_EXPIRE_SECONDS = read.positive_int("MLMETA_TRUSTED_DEVICE_EXPIRE_SECONDS", 30 * 24 * 3600)
# MLMeta as an OAuth2 / OpenID Connect provider (django-oauth-toolkit, mounted at /oauth/). DOT keeps
# access tokens in clear text: they live minutes, and Celery beat clears expired ones hourly.
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _dev_secret("MLMETA_OIDC_RSA_PRIVATE_KEY", "oidc_rsa_private_key.pem", _new_rsa_key),
    "OIDC_ISS_ENDPOINT": f"{SERVER_URL}/oauth",
    "OAUTH2_VALIDATOR_CLASS": "tenants.oauth.OAuth2Validator",
    "SCOPES": {
        "openid": "OpenID Connect sign-in",
        "profile": "Your name, username and teams",
        "email": "Your e-mail address",
        "read": "Read the API",
        "write": "Create, change and delete through the API",
        "admin": "Everything, including users, service accounts and roles",
    },
    "DEFAULT_SCOPES": ["read"],
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": read.positive_int("MLMETA_OAUTH_ACCESS_TOKEN_SECONDS", 900),
    "ID_TOKEN_EXPIRE_SECONDS": read.positive_int("MLMETA_OAUTH_ACCESS_TOKEN_SECONDS", 900),
    "REFRESH_TOKEN_EXPIRE_SECONDS": read.positive_int("MLMETA_OAUTH_REFRESH_TOKEN_SECONDS", 7 * 24 * 3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if PRODUCTION else ["http", "https"],
    # RFC 9700 (the OAuth 2.0 security best current practice), ahead of django-oauth-toolkit 4.0's
    # defaults: access and refresh tokens are kept only as their SHA-256 (a database dump or the
    # admin shows no usable token); no implicit or password grant; PKCE with S256 only; access
    # tokens in the Authorization header only; `iss` in the authorization response (RFC 9207);
    # a refresh token presented twice revokes every token refreshed from it.
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
}
# The control-plane API's OpenAPI schema (/api/control/v1/schema/, committed as docs/control-api.yaml);
# Swagger UI's assets come from drf-spectacular-sidecar, so the page loads nothing from a CDN.
SPECTACULAR_SETTINGS = {
    "TITLE": "MLMeta control plane",
    "DESCRIPTION": "Organizations, tenants, members, teams, roles, invitations, service accounts, API keys "
    "and the audit log. Authenticate with the dashboard session or `Authorization: Bearer ZENKEY_...`.",
    "VERSION": MLMETA_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"Permission": "tenants.control_api.serializers.PERMISSION_CHOICES"},
}

# Celery: the embedded default is kombu's filesystem transport under var/, so `make run`
# has a real worker without a separate broker service.
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_URL = read.str("CELERY_BROKER_URL", "filesystem://")
if PRODUCTION and CELERY_BROKER_URL.startswith("filesystem://"):
    raise ImproperlyConfigured("CELERY_BROKER_URL must point at Redis or RabbitMQ when MLMETA_ENV=production.")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
else:
    # Redis/SQS redeliver an unacked task after the visibility timeout: keep it above the longest
    # task (a local runner waits for its pipeline); server-side run tasks are idempotent anyway.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": read.positive_int("MLMETA_BROKER_VISIBILITY_TIMEOUT", 4000)
    }
try:
    CELERY_BROKER_TRANSPORT_OPTIONS.update(json.loads(read.str("MLMETA_BROKER_OPTIONS", "{}")))
except (ValueError, TypeError) as exc:
    raise ImproperlyConfigured(f"MLMETA_BROKER_OPTIONS must be a JSON object: {exc}") from None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 3600
CELERY_TASK_SOFT_TIME_LIMIT = 3300
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
# Synced into django-celery-beat's tables when beat starts.
CELERY_BEAT_SCHEDULE = {
    "clear-expired-oauth-tokens": {"task": "tenants.tasks.clear_expired_oauth_tokens", "schedule": 3600.0},
    "sweep-server-side-runs": {"task": "mlmeta.tasks.sweep_server_side_runs", "schedule": 300.0},
    "refresh-statistics": {"task": "core.refresh_statistics", "schedule": 600.0},
}

# Server-side runs (mlmeta.launching): runners by name -> {"class": dotted path, **options}; more
# (webhook URLs and secrets, kubernetes images) as JSON in MLMETA_RUNNERS_JSON. A stack chooses
# with its label `mlmeta.runner`, a tenant with MLMETA_TENANT_RUNNERS ({"slug": "name"}).
MLMETA_RUNNERS = {
    "local": {"class": "mlmeta.runners.local.LocalRunner"},
    "webhook": {"class": "mlmeta.runners.webhook.WebhookRunner", "kind": "http", "url": ""},
    "kubernetes": {"class": "mlmeta.runners.kubernetes.KubernetesRunner", "image": ""},
}
try:
    MLMETA_RUNNERS.update(json.loads(read.str("MLMETA_RUNNERS_JSON", "{}")))
    MLMETA_TENANT_RUNNERS = json.loads(read.str("MLMETA_TENANT_RUNNERS", "{}"))
except (ValueError, TypeError) as exc:
    raise ImproperlyConfigured(f"MLMETA_RUNNERS_JSON / MLMETA_TENANT_RUNNERS must be JSON objects: {exc}") from None
MLMETA_DEFAULT_RUNNER = read.str("MLMETA_DEFAULT_RUNNER", "local")
# The local runner's Python (one with zenml installed; default .venv-zenml if present) and the
# directory the pipelines' modules are imported from.
MLMETA_RUNNER_PYTHON = read.str("MLMETA_RUNNER_PYTHON", "")
MLMETA_RUNNER_SOURCE_ROOT = read.str("MLMETA_RUNNER_SOURCE_ROOT", "")
MLMETA_RUNNER_SERVER_URL = read.str("MLMETA_RUNNER_SERVER_URL", "")
MLMETA_RUNNER_TIMEOUT = read.positive_int("MLMETA_RUNNER_TIMEOUT", 3000)
MLMETA_RUNNER_TOKEN_SECONDS = read.positive_int("MLMETA_RUNNER_TOKEN_SECONDS", 6 * 3600)
# A run claimed by a worker that died before starting its runner is failed after this long.
MLMETA_RUNNER_CLAIM_SECONDS = read.positive_int("MLMETA_RUNNER_CLAIM_SECONDS", 600)
MLMETA_RUN_TASK_SOFT_TIME_LIMIT = read.positive_int("MLMETA_RUN_TASK_SOFT_TIME_LIMIT", 3300)
MLMETA_RUN_TASK_TIME_LIMIT = read.positive_int("MLMETA_RUN_TASK_TIME_LIMIT", 3600)

# Bootstrap: the first admin (otherwise a generated password is written under var/).
MLMETA_ADMIN_USERNAME = read.str("MLMETA_ADMIN_USERNAME", "admin")
MLMETA_ADMIN_PASSWORD = read.str("MLMETA_ADMIN_PASSWORD", "")
MLMETA_DEFAULT_TENANT = read.str("MLMETA_DEFAULT_TENANT", "default")
# Directories holding local artifact stores the server may read (visualizations, logs, downloads);
# by default where ZenML clients on this machine put theirs.
_zenml_stores = read.str("ZENML_LOCAL_STORES_PATH", str(Path.home() / ".config" / "zenml" / "local_stores"))
MLMETA_LOCAL_ARTIFACT_ROOTS = read.list("MLMETA_LOCAL_ARTIFACT_ROOTS", [_zenml_stores])
ARTIFACT_DOWNLOAD_TOKEN_SECONDS = read.positive_int("MLMETA_ARTIFACT_DOWNLOAD_TOKEN_SECONDS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_urls": {"()": "core.log_redaction.RedactUrls"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_urls"]}},
    "root": {"handlers": ["console"], "level": read.str("LOG_LEVEL", "INFO").upper()},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
