"""Settings, read from the environment only (see README, "Configuration")."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url

from chatsite.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    load_secret_key,
    parse_ollama_host,
)
from chatsite.private_files import PRIVATE_DIR, PRIVATE_FILE, make_private_dir, make_sqlite_private

BASE_DIR = Path(__file__).resolve().parent.parent
# The database, the secret key and uploaded images: for the app's user only.
DATA_DIR = make_private_dir(Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve())

SECRET_KEY = load_secret_key(DATA_DIR)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

OLLAMA_HOST = parse_ollama_host(env_str("OLLAMA_HOST", ""))
# Connecting gets a short deadline; reading does not, because a cold model load
# can take a minute or more before the first byte.
OLLAMA_CONNECT_TIMEOUT = env_float("OLLAMA_CONNECT_TIMEOUT", 3.0, minimum=0.1)
OLLAMA_READ_TIMEOUT = env_float("OLLAMA_READ_TIMEOUT", 600.0, minimum=0.1)

MAX_MESSAGE_CHARS = env_int("MAX_MESSAGE_CHARS", 100_000, minimum=1)
# The largest socket frame a tab may send: the longest message as JSON text (up
# to 12 bytes a character when a client escapes it, as \ud83d\ude00 for one
# emoji) with a schema and the rest of the frame. The server (chatsite/serve.py)
# accepts a little more, so a frame just over this gets the app's own error
# frame instead of a dropped connection.
MAX_FRAME_BYTES = max(1024 * 1024, 12 * MAX_MESSAGE_CHARS + 128 * 1024)
TRANSPORT_FRAME_BYTES = MAX_FRAME_BYTES + 64 * 1024
# Request bodies larger than this are refused with 413 before they are read
# (uploads and imports have limits of their own; see chatsite/serve.py).
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 1024 * 1024, minimum=1024)
MAX_IMAGE_BYTES = env_int("MAX_IMAGE_BYTES", 10 * 1024 * 1024, minimum=1)
MAX_IMAGES_PER_MESSAGE = env_int("MAX_IMAGES_PER_MESSAGE", 4, minimum=1)
# Uploads attached but not sent yet, per user: at most this many, and this many bytes in all.
MAX_UNSENT_IMAGES = env_int("MAX_UNSENT_IMAGES", 20, minimum=1)
MAX_UNSENT_IMAGE_BYTES = env_int("MAX_UNSENT_IMAGE_BYTES", 100 * 1024 * 1024, minimum=1)
# Images larger than this (longest side, in pixels) are sent downscaled; the original is kept.
IMAGE_MAX_SIDE = env_int("IMAGE_MAX_SIDE", 2048, minimum=64)
# Decoding more pixels than this is refused (decompression bombs).
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 50_000_000, minimum=1)
# Imports: the largest file (and, for a zip, the most it may unpack to), and the most messages.
MAX_IMPORT_BYTES = env_int("MAX_IMPORT_BYTES", 50 * 1024 * 1024, minimum=1)
MAX_IMPORT_MESSAGES = env_int("MAX_IMPORT_MESSAGES", 10_000, minimum=1)
# How often a streaming reply's partial text is saved, and how often frames go out.
REPLY_CHECKPOINT_SECONDS = env_float("REPLY_CHECKPOINT_SECONDS", 1.0, minimum=0.05)
REPLY_FRAME_SECONDS = env_float("REPLY_FRAME_SECONDS", 1 / 30, minimum=0.0)
# After the first reply, ask the model for a short title.
GENERATE_TITLES = env_bool("GENERATE_TITLES", True)
# Tools: rounds of calls one reply may make, how long one call may take, how much of
# its result the model gets, and the built-in tools an administrator switched off.
MAX_TOOL_ROUNDS = env_int("MAX_TOOL_ROUNDS", 8, minimum=1)
TOOL_CALL_TIMEOUT_SECONDS = env_float("TOOL_CALL_TIMEOUT_SECONDS", 30.0, minimum=0.1)
TOOL_RESULT_MAX_CHARS = env_int("TOOL_RESULT_MAX_CHARS", 20_000, minimum=100)
DISABLED_TOOLS = env_list("DISABLED_TOOLS", [])
# Calls a minute each API key may make (openai_api/), counted across workers.
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 60, minimum=1)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "conversations",
    "ollama_models",
    "accounts",
    "openai_api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Above everything that writes a response's body, so that it compresses the final one.
    "chatsite.compression.CompressedPagesMiddleware",
    "chatsite.body_limits.BodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "conversations.middleware.TimezoneMiddleware",
    "conversations.middleware.FirstRunMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "conversations.middleware.ContentSecurityPolicyMiddleware",
    # Last, as axes asks: it turns a paused sign-in into conversations.sign_in's page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

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
            ],
        },
    },
]


def _database(url: str) -> dict:
    # Django opens a connection per thread. An HTTP request runs in a thread of
    # its own under ASGI, so its connection is closed when it ends (on PostgreSQL
    # it goes back to a pool). Socket and reply work all runs in one database
    # thread: on SQLite that thread keeps its connection, since opening one per
    # call (with its PRAGMAs and functions) cost more than the call itself; see
    # conversations/signals.py for the request side.
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["OPTIONS"] = {
            "pool": {"min_size": 2, "max_size": env_int("DATABASE_POOL_SIZE", 20, minimum=1), "timeout": 30}
        }
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Many writers at once (one per streaming reply): WAL lets readers go on,
        # IMMEDIATE takes the write lock up front instead of failing half-way,
        # and the timeout makes writers queue instead of raising "locked".
        config["CONN_MAX_AGE"] = None
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": env_float("SQLITE_TIMEOUT", 30.0, minimum=0.0),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


DATABASES = {"default": _database(env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    make_sqlite_private(str(DATABASES["default"]["NAME"]))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
# The default capacity (100 events a channel) drops frames silently when a tab
# falls behind during a burst of replies; a reply's frames are small. On Redis
# every channel of a worker shares one list, so the limit is per worker there.
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 2000},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "chatsite.layers.ThrottledInMemoryChannelLayer", "CONFIG": {"capacity": 2000}}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT failed sign-ins within
# LOGIN_COOLOFF_MINUTES, the account is paused, and so is the address they came from
# (each counted on its own), until that long after the last failure.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: it refuses a paused sign-in before any password check
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = "conversations.sign_in.lockout_parameters"
# Sign-up forms carry their passwords in these fields: never written with a counted attempt.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password1", "password2"]
# Trying again while paused does not push the end of the pause further away.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# axes' own reset would also clear every failure from the signing-in address, other
# accounts' included: one's own account would reset the count on someone else's.
# conversations/sign_in.py clears only the account that signed in.
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True  # throttling only: no row for every successful sign-in
AXES_LOCKOUT_CALLABLE = "conversations.sign_in.lockout_response"
AXES_CLIENT_IP_CALLABLE = "conversations.sign_in.client_address"
# Reverse proxies in front that append to X-Forwarded-For; 0 ignores the header.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Uploaded images: kept under DATA_DIR and served only through an ownership check.
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"  # never routed: see conversations.views.image
FILE_UPLOAD_PERMISSIONS = PRIVATE_FILE
FILE_UPLOAD_DIRECTORY_PERMISSIONS = PRIVATE_DIR

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles"))).resolve()
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns about a missing one
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "chatsite.storage.StaticFilesStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Served over HTTPS (docs/deploy.md): all off by default, so `make run` works on plain HTTP.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Only behind a proxy that ends TLS and always sets this header itself: a client could send it too.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"conversations": {"level": env_str("LOG_LEVEL", "INFO")}},
}
