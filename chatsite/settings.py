"""Settings, read from the environment only (see README, "Configuration")."""

from __future__ import annotations

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

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

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
MAX_IMAGE_BYTES = env_int("MAX_IMAGE_BYTES", 10 * 1024 * 1024, minimum=1)
MAX_IMAGES_PER_MESSAGE = env_int("MAX_IMAGES_PER_MESSAGE", 4, minimum=1)
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
    "conversations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # The default capacity (100 events a channel) drops frames silently when a
    # tab falls behind during a burst of replies; a reply's frames are small.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "chatsite.layers.ThrottledInMemoryChannelLayer", "CONFIG": {"capacity": 2000}}
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
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
FILE_UPLOAD_PERMISSIONS = 0o600

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"conversations": {"level": env_str("LOG_LEVEL", "INFO")}},
}
