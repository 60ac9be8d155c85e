"""One settings module for every environment, read from environment variables.

With nothing set you get the embedded set-up: SQLite under ``var/``, Celery tasks
run in-process, local-memory cache, console email, and a secret key and signing
key generated into ``var/``. Setting ``DATABASE_URL`` and ``REDIS_URL`` gives the
production set-up (PostgreSQL, Redis cache and broker, a Celery worker and beat).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from idp import bootstrap
from idp.oauth.policy import pkce_required

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = bootstrap.VAR_DIR
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

# "Embedded" is the zero-configuration mode of `make run`: no database server, no broker.
EMBEDDED = "DATABASE_URL" not in os.environ

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if EMBEDDED or bootstrap.SECRET_FILE.exists():
        SECRET_KEY = bootstrap.ensure_secret_key()
    else:
        raise ImproperlyConfigured("SECRET_KEY is not set. Set it in the environment or run `python -m idp.bootstrap`.")

IDP_ISSUER = env.str("IDP_ISSUER", default="").rstrip("/")
# Absolute base URL used where no request is at hand (emails, device verification URI).
IDP_PUBLIC_URL = env.str("IDP_PUBLIC_URL", default=IDP_ISSUER or "http://127.0.0.1:8000").rstrip("/")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "accounts.mfa.admin.MFAAdminConfig",  # the admin, for staff with a second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_email",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.apple",
    "allauth.socialaccount.providers.facebook",
    "allauth.socialaccount.providers.line",
    "allauth.socialaccount.providers.openid_connect",
    "idp",
    "accounts",
    "consent",
    "loyalty",
    "staff",
    "imports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "idp.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "idp.middleware.UiLocalesMiddleware",
    "django.middleware.common.CommonMiddleware",
    "idp.middleware.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.security.middleware.AccountProtectionMiddleware",
]

ROOT_URLCONF = "idp.urls"
WSGI_APPLICATION = "idp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "idp.context_processors.branding",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # One file per test run, so that two runs in one checkout do not share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The token endpoint's hand-written statements (idp/oauth/statements.py) are prepared once per
    # connection; Django's ORM binds on the client side and never prepares. Set
    # DATABASE_PREPARED_STATEMENTS=0 behind a pooler that cannot keep them (PgBouncer in transaction
    # mode before 1.21).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery ---------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
from celery.schedules import crontab  # noqa: E402

CELERY_BEAT_SCHEDULE = {
    "clear-expired-tokens": {"task": "idp.tasks.clear_expired_tokens", "schedule": timedelta(hours=1)},
    # Privacy: resume stalled export/erasure jobs, finish erasures whose holds ended, expire exports.
    "privacy-resume-jobs": {"task": "consent.privacy.resume_jobs", "schedule": timedelta(minutes=5)},
    "privacy-inactive-accounts": {"task": "consent.privacy.inactive_accounts_sweep", "schedule": timedelta(days=1)},
    # Webhooks: publish again what the broker never got (consent/outbox/services.py outbox_sweep).
    "consent-outbox-sweep": {"task": "consent.outbox.sweep", "schedule": timedelta(minutes=1)},
    "loyalty-expire-points": {"task": "loyalty.tasks.expire_points", "schedule": timedelta(hours=1)},
    "loyalty-recompute-tiers": {"task": "loyalty.tasks.recompute_tiers", "schedule": crontab(hour=3, minute=15)},
    # Staff dashboard: yesterday's figures (and the day before again), idp/dashboard/services.py.
    "dashboard-metrics-rollup": {"task": "idp.dashboard.metrics_rollup", "schedule": crontab(hour=0, minute=20)},
    "loyalty-purge-idempotency-keys": {"task": "loyalty.tasks.purge_idempotency_keys", "schedule": timedelta(days=1)},
}

# --- Email -----------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@idp.example")
# Text messages (phone verification, accounts.phone.sms): unset SMS_URL prints them to the console.
SMS_URL = env.str("SMS_URL", default="")
SMS_TOKEN = env.str("SMS_TOKEN", default="")
SMS_BACKEND = env.str("SMS_BACKEND", default="")

# --- Authentication ---------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "idp.hashers.ClientSecretHasher",
    # Hashes imported from earlier systems (manage.py import_members): verified once, then
    # re-hashed with Argon2id; the weak ones never sign in (docs/import.md).
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "accounts.hashers.LegacyBcryptHasher",
    "accounts.hashers.LegacyPBKDF2Hasher",
    "accounts.hashers.LegacySHA256Hasher",
    "accounts.hashers.LegacySHA1Hasher",
    "accounts.hashers.LegacyMD5Hasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.RepetitivePasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# allauth: accounts only (no allauth.mfa, no allauth.idp; see DESIGN.md).
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_AUTHENTICATED_LOGIN_REDIRECTS = False  # the login form doubles as re-authentication
# Changing email or password needs an authentication within the last five minutes.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
ACCOUNT_EMAIL_NOTIFICATIONS = True  # tell the member when their password or email changes
ACCOUNT_PRESERVE_USERNAME_CASING = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if IDP_PUBLIC_URL.startswith("https") else "http"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm", "signup": "accounts.forms.SignupForm"}

# Social login (allauth socialaccount): providers are configured from the environment or
# in the admin (Social applications); see accounts/social/conf.py.
from accounts.social.conf import providers_from_env  # noqa: E402

SOCIALACCOUNT_PROVIDERS = providers_from_env(env)
SOCIALACCOUNT_ADAPTER = "accounts.social.adapter.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False  # a matching email never signs anyone in by itself
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False

# django-otp (TOTP, email codes). Our own MFA tunables are in accounts/app_settings.py.
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Member ID")
OTP_EMAIL_TOKEN_VALIDITY = 600

# --- Sessions and cookies ------------------------------------------------------------------------
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 24 * 14)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=not EMBEDDED)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SECURE = SECURE_COOKIES
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
SESSION_COOKIE_NAME = "__Host-sid" if SECURE_COOKIES else "sid"
CSRF_COOKIE_NAME = "__Host-csrf" if SECURE_COOKIES else "csrftoken"
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", False) else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)

# --- I18N ------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static and media ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

# --- OAuth 2.0 / OpenID Connect (django-oauth-toolkit) -----------------------------------------------
OAUTH2_PROVIDER_APPLICATION_MODEL = "idp.Client"
if os.environ.get("OIDC_RSA_PRIVATE_KEY"):
    _ACTIVE_KEY, _INACTIVE_KEYS = os.environ["OIDC_RSA_PRIVATE_KEY"], []
else:
    if EMBEDDED or bootstrap.KEYRING_FILE.exists():
        bootstrap.ensure_signing_key()
    else:
        raise ImproperlyConfigured("No OIDC signing key. Set OIDC_RSA_PRIVATE_KEY or run `python -m idp.bootstrap`.")
    _ACTIVE_KEY, _INACTIVE_KEYS = bootstrap.load_signing_keys()

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _ACTIVE_KEY,
    "OIDC_RSA_PRIVATE_KEYS_INACTIVE": _INACTIVE_KEYS,
    "OIDC_ISS_ENDPOINT": IDP_ISSUER,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": [
        "authorization_code",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    ],
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post", "none"],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": True,
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": True,
    "OAUTH2_VALIDATOR_CLASS": "idp.oauth.validators.Validator",
    "ACCESS_TOKEN_GENERATOR": "idp.oauth.token.generate_token",
    "SCOPES_BACKEND_CLASS": "idp.oauth.scopes.ScopesBackend",
    "CLIENT_SECRET_HASHER": "idp_client_secret",
    "PKCE_REQUIRED": pkce_required,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("ACCESS_TOKEN_EXPIRE_SECONDS", default=3600),
    "ID_TOKEN_EXPIRE_SECONDS": env.int("ID_TOKEN_EXPIRE_SECONDS", default=3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env.int("REFRESH_TOKEN_EXPIRE_SECONDS", default=60 * 60 * 24 * 30),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "OAUTH_DEVICE_VERIFICATION_URI": IDP_PUBLIC_URL + "/device",
    "DEVICE_FLOW_INTERVAL": 5,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    "ALLOW_URI_WILDCARDS": False,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # Apps add their own scopes with idp.oauth.scopes.register_scope().
    "SCOPES": {
        "openid": _("Sign you in with your account"),
        "profile": _("Your name and profile (name, nickname, language, time zone)"),
        "email": _("Your email address"),
        "phone": _("Your phone number"),
        "address": _("Your postal address"),
        "offline_access": _("Stay connected while you are away"),
        "introspection": _("Check access tokens (for resource servers)"),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
