"""Every setting of API.md §6, read from the environment, typed and checked once at start-up."""

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import phonenumbers
from limits import RateLimitItem, parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ROOT = Path(__file__).resolve().parent.parent

LOCALES = ("en", "ar")
REDIS_SCHEMES = ("redis", "rediss", "unix")
DATABASE_DRIVERS = ("sqlite", "postgresql+psycopg")


class ConfigError(ValueError):
    """A setting has a value the service cannot run with; the message names it."""


class _Reader:
    """Typed accessors over an environment mapping; each failure names the variable."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return default
        allowed = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number {allowed}, not {value!r}") from None
        if number < minimum or (maximum is not None and number > maximum):
            raise ConfigError(f"{name} must be a whole number {allowed}, not {value!r}")
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, not {value!r}")

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        return value.lower()

    def countries(self, name: str) -> frozenset[str] | None:
        value = self.raw(name)
        if value is None or value.lower() == "all":
            return None
        codes = frozenset(part.strip().upper() for part in value.split(",") if part.strip())
        bad = sorted(code for code in codes if code not in phonenumbers.SUPPORTED_REGIONS)
        if bad or not codes:
            raise ConfigError(
                f"{name} must be 'all' or comma-separated ISO 3166-1 alpha-2 codes, not {value!r}"
            )
        return codes

    def seconds_list(self, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
        value = self.raw(name)
        if value is None:
            return default
        try:
            numbers = tuple(int(part) for part in value.split(","))
        except ValueError:
            numbers = ()
        if not numbers or any(number < 0 for number in numbers):
            raise ConfigError(f"{name} must be comma-separated whole seconds, not {value!r}")
        return numbers

    def rate_limits(self, name: str, default: str) -> list[RateLimitItem]:
        value = self.raw(name) or default
        try:
            return parse_many(value)
        except ValueError:
            raise ConfigError(
                f"{name} must be limits such as '20/minute' or '5 per 10 seconds', separated by ';', "
                f"not {value!r}"
            ) from None

    def origins(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        return tuple(part.strip() for part in value.split(",") if part.strip())


class Config:
    """The service's settings.

    Built from a mapping (the process environment by default) so that tests can build
    one from a plain dict. Raises ConfigError, naming the variable, on the first bad value.
    """

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = _Reader(os.environ if environ is None else environ)

        self.ENVIRONMENT = env.choice("REGISTRAR_ENV", "development", ("development", "production"))
        production = self.ENVIRONMENT == "production"
        self.INSTANCE_PATH = Path(env.text("INSTANCE_PATH", str(ROOT / "instance"))).resolve()

        self.DATABASE_URL = _database_url(
            env.text("DATABASE_URL") or f"sqlite:///{self.INSTANCE_PATH / 'registrar.db'}"
        )
        self.REDIS_URL = env.text("REDIS_URL")
        if self.REDIS_URL is not None and urlsplit(self.REDIS_URL).scheme not in REDIS_SCHEMES:
            raise ConfigError(
                f"REDIS_URL must be a redis://, rediss:// or unix:// URL, not one of scheme "
                f"{urlsplit(self.REDIS_URL).scheme!r}"
            )
        self.PORT = env.integer("PORT", 8000, minimum=1, maximum=65535)
        self.ADMIN_API_KEY = env.text("ADMIN_API_KEY")
        if self.ADMIN_API_KEY is not None and len(self.ADMIN_API_KEY) < 16:
            raise ConfigError("ADMIN_API_KEY must be at least 16 characters long")
        self.SECRET_KEY = env.text("SECRET_KEY")
        if self.SECRET_KEY is not None and len(self.SECRET_KEY) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters long")
        self.JWT_PRIVATE_KEY = env.text("JWT_PRIVATE_KEY")
        self.JWT_PREVIOUS_PUBLIC_KEYS = env.text("JWT_PREVIOUS_PUBLIC_KEYS")
        self.JWT_ISSUER = env.text("JWT_ISSUER", "registrar")
        self.JWT_AUDIENCE = env.text("JWT_AUDIENCE", "storefront")
        self.ACCESS_TOKEN_TTL = env.integer("ACCESS_TOKEN_TTL", 900, minimum=60, maximum=86400)
        self.REFRESH_TOKEN_TTL = env.integer("REFRESH_TOKEN_TTL", 2592000, minimum=300, maximum=31536000)
        self.EMAIL_CHECK_DELIVERABILITY = env.boolean("EMAIL_CHECK_DELIVERABILITY", False)

        # Channel names are checked against app.channels' registry when the senders are made.
        self.SMS_CHANNEL = env.text("SMS_CHANNEL", "console").lower()
        self.SMS_HTTP_URL = env.text("SMS_HTTP_URL")
        self.SMS_HTTP_TOKEN = env.text("SMS_HTTP_TOKEN")
        self.TWILIO_ACCOUNT_SID = env.text("TWILIO_ACCOUNT_SID")
        self.TWILIO_AUTH_TOKEN = env.text("TWILIO_AUTH_TOKEN")
        self.TWILIO_FROM = env.text("TWILIO_FROM")
        self.TWILIO_API_BASE = env.text("TWILIO_API_BASE", "https://api.twilio.com")
        self.EMAIL_CHANNEL = env.text("EMAIL_CHANNEL", "console").lower()
        self.SMTP_HOST = env.text("SMTP_HOST")
        self.SMTP_PORT = env.integer("SMTP_PORT", 587, minimum=1, maximum=65535)
        self.SMTP_USER = env.text("SMTP_USER")
        self.SMTP_PASSWORD = env.text("SMTP_PASSWORD")
        self.SMTP_STARTTLS = env.boolean("SMTP_STARTTLS", True)
        self.SMTP_SSL = env.boolean("SMTP_SSL", self.SMTP_PORT == 465)
        if self.SMTP_SSL and self.SMTP_STARTTLS and env.raw("SMTP_STARTTLS") is not None:
            raise ConfigError("SMTP_SSL and SMTP_STARTTLS exclude each other: choose one")
        self.MAIL_FROM = env.text("MAIL_FROM")
        self.CHANNEL_TIMEOUT = env.integer("CHANNEL_TIMEOUT", 10, minimum=1, maximum=60)
        self.STORE_NAME = env.text("STORE_NAME", "Registrar")
        self.WEBOTP_DOMAIN = env.text("WEBOTP_DOMAIN")

        self.OTP_LENGTH = env.integer("OTP_LENGTH", 6, minimum=6, maximum=10)
        self.OTP_TTL = env.integer("OTP_TTL", 300, minimum=1, maximum=86400)
        self.OTP_MAX_ATTEMPTS = env.integer("OTP_MAX_ATTEMPTS", 5, minimum=1, maximum=100)
        self.RESEND_COOLDOWN = env.integer("RESEND_COOLDOWN", 60, minimum=0, maximum=86400)
        self.MAX_RESENDS = env.integer("MAX_RESENDS", 3, minimum=0, maximum=100)
        self.REGISTRATION_TTL = env.integer("REGISTRATION_TTL", 1800, minimum=1, maximum=604800)
        if self.REGISTRATION_TTL < self.OTP_TTL:
            raise ConfigError(
                f"REGISTRATION_TTL ({self.REGISTRATION_TTL}) must be at least OTP_TTL ({self.OTP_TTL})"
            )
        self.REVEAL_EXISTING_ACCOUNTS = env.boolean("REVEAL_EXISTING_ACCOUNTS", False)
        self.SMS_ALLOWED_COUNTRIES = env.countries("SMS_ALLOWED_COUNTRIES")
        self.MAX_CODES_PER_DESTINATION = env.integer("MAX_CODES_PER_DESTINATION", 5, minimum=1)
        self.SMS_PREFIX_HOURLY_LIMIT = env.integer("SMS_PREFIX_HOURLY_LIMIT", 20, minimum=1)
        self.SMS_COUNTRY_HOURLY_LIMIT = env.integer("SMS_COUNTRY_HOURLY_LIMIT", 1000, minimum=1)
        self.WEBHOOK_RETRY_SCHEDULE = env.seconds_list(
            "WEBHOOK_RETRY_SCHEDULE", (5, 300, 1800, 7200, 18000, 36000, 36000)
        )
        self.WEBHOOK_ALLOW_PRIVATE_URLS = env.boolean("WEBHOOK_ALLOW_PRIVATE_URLS", False)
        self.WEBHOOK_LEASE = env.integer("WEBHOOK_LEASE", 60, minimum=1, maximum=3600)
        self.DEFAULT_LOCALE = env.choice("DEFAULT_LOCALE", "en", LOCALES)
        self.RATE_LIMIT_REGISTER = env.rate_limits("RATE_LIMIT_REGISTER", "20/minute")
        self.RATE_LIMITS_ENABLED = env.boolean("RATE_LIMITS_ENABLED", True)
        self.TRUSTED_PROXIES = env.integer("TRUSTED_PROXIES", 0, minimum=0, maximum=10)
        self.CORS_ORIGINS = env.origins("CORS_ORIGINS")

        if production:
            for variable, channel in (
                ("SMS_CHANNEL", self.SMS_CHANNEL),
                ("EMAIL_CHANNEL", self.EMAIL_CHANNEL),
            ):
                if channel == "console":
                    raise ConfigError(
                        f"{variable}=console writes every code to the log: "
                        "REGISTRAR_ENV=production needs a real channel"
                    )
            missing = [
                name
                for name in ("SECRET_KEY", "JWT_PRIVATE_KEY", "DATABASE_URL", "REDIS_URL")
                if env.raw(name) is None
            ]
            if missing:
                raise ConfigError(f"REGISTRAR_ENV=production requires {', '.join(missing)} to be set")

        # Flask and flask-smorest settings that follow from the ones above.
        self.MAX_CONTENT_LENGTH = 64 * 1024
        self.API_TITLE = "Registrar"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        self.OPENAPI_SWAGGER_UI_URL = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"

    @property
    def uses_embedded_redis(self) -> bool:
        return self.REDIS_URL is None


def _database_url(url: str) -> str:
    """Point plain PostgreSQL URLs at psycopg 3, the driver we ship; refuse what is no URL."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg://" + url[len(scheme) :]
    try:
        driver = make_url(url).drivername
    except (ArgumentError, ValueError):
        driver = None
    if driver not in DATABASE_DRIVERS:
        # The URL itself may hold a password: name only what kind of URL it is.
        kind = f"a {driver}:// URL" if driver else "no URL"
        raise ConfigError(f"DATABASE_URL must be a postgresql:// or sqlite:// URL, not {kind}")
    return url
