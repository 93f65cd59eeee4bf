"""Every setting of API.md §6, read from the environment, typed and checked once at start-up;
a refusal is one line naming the variable, what it allows and, unless it is secret, the value."""

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, get_args

import phonenumbers
from limits import RateLimitItem, parse_many
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from config import production

ROOT = Path(__file__).resolve().parent.parent
Locale = Literal["en", "ar"]
LOCALES: tuple[str, ...] = get_args(Locale)


class ConfigError(ValueError):
    """A setting has a value the service cannot run with; the message names it."""


def _from_text(parse: Callable[[str], Any]) -> BeforeValidator:
    # A value that is not text is a default, parsed already.
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


def _countries(text: str) -> frozenset[str] | None:
    if text.lower() in ("all", "*"):
        return None
    codes = frozenset(part.strip().upper() for part in text.split(",") if part.strip())
    if not codes or not codes <= phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(text)
    return codes


def _database_url(url: str) -> str:
    """Plain PostgreSQL URLs use psycopg 3, the driver we ship."""
    url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)
    try:
        driver = make_url(url).drivername
    except ArgumentError:
        driver = None
    if driver not in ("sqlite", "postgresql+psycopg"):
        raise ValueError("not a postgresql:// or sqlite:// URL")
    return url


def _whole(default: int | None, low: int, high: int | None = None) -> Any:
    allowed = f"from {low} to {high}" if high is not None else f"of at least {low}"
    return Field(default, ge=low, le=high, description=f"a whole number {allowed}")


def _names(text: str) -> tuple[str, ...]:
    return tuple(filter(None, map(str.strip, text.split(","))))


Flag = Annotated[bool, Field(description="true or false")]
Lowered = _from_text(str.lower)


class Config(BaseSettings):
    """The service's settings, one field per variable of API.md §6. Build it with `Config.load()`."""

    # Exact names only, and lists split here rather than decoded as JSON.
    model_config = SettingsConfigDict(
        case_sensitive=True,
        enable_decoding=False,
        extra="ignore",
        validate_default=True,
        arbitrary_types_allowed=True,
    )

    ENVIRONMENT: Annotated[Literal["development", "production"], Lowered] = Field(
        "development", validation_alias="REGISTRAR_ENV", description="one of development, production"
    )
    INSTANCE_PATH: Annotated[Path, AfterValidator(Path.resolve)] = ROOT / "instance"
    # Unless given, the SQLite file in INSTANCE_PATH (_check_together).
    DATABASE_URL: Annotated[str, AfterValidator(_database_url)] = Field(
        "", repr=False, validate_default=False, description="a postgresql:// or sqlite:// URL"
    )
    REDIS_URL: str | None = Field(
        None, pattern="(?i)^(rediss?|unix):", repr=False, description="a redis://, rediss:// or unix:// URL"
    )
    PORT: int = _whole(8000, 1, 65535)
    ADMIN_API_KEY: str | None = Field(None, min_length=16, repr=False, description="at least 16 characters")
    SECRET_KEY: str | None = Field(None, min_length=32, repr=False, description="at least 32 characters")
    JWT_PRIVATE_KEY: str | None = Field(None, repr=False)
    JWT_PREVIOUS_PUBLIC_KEYS: str | None = None
    JWT_ISSUER: str = "registrar"
    JWT_AUDIENCE: str = "storefront"
    ACCESS_TOKEN_TTL: int = _whole(900, 60, 86400)
    REFRESH_TOKEN_TTL: int = _whole(2592000, 300, 31536000)
    REFRESH_FAMILY_MAX_AGE: int = _whole(7776000, 1)
    EMAIL_CHECK_DELIVERABILITY: Flag = False

    # Channel names are checked against app.channels' registry when the senders are made.
    SMS_CHANNEL: Annotated[str, Lowered] = "console"
    SMS_HTTP_URL: str | None = None
    SMS_HTTP_TOKEN: str | None = Field(None, repr=False)
    TWILIO_ACCOUNT_SID: str | None = None
    TWILIO_AUTH_TOKEN: str | None = Field(None, repr=False)
    TWILIO_FROM: str | None = None
    TWILIO_API_BASE: str = "https://api.twilio.com"
    EMAIL_CHANNEL: Annotated[str, Lowered] = "console"
    SMTP_HOST: str | None = None
    SMTP_PORT: int = _whole(587, 1, 65535)
    SMTP_USER: str | None = None
    SMTP_PASSWORD: str | None = Field(None, repr=False)
    SMTP_STARTTLS: Flag = True
    SMTP_SSL: Flag = False  # unless given, True on port 465 (_check_together)
    MAIL_FROM: str | None = None
    CHANNEL_TIMEOUT: int = _whole(10, 1, 60)
    STORE_NAME: str = "Registrar"
    WEBOTP_DOMAIN: str | None = None

    OTP_LENGTH: int = _whole(6, 6, 10)
    OTP_TTL: int = _whole(300, 1, 86400)
    OTP_MAX_ATTEMPTS: int = _whole(5, 1, 100)
    RESEND_COOLDOWN: int = _whole(60, 0, 86400)
    MAX_RESENDS: int = _whole(3, 0, 100)
    REGISTRATION_TTL: int = _whole(1800, 1, 604800)
    REVEAL_EXISTING_ACCOUNTS: Flag = False
    SMS_ALLOWED_COUNTRIES: Annotated[frozenset[str] | None, _from_text(_countries)] = Field(
        None, description="'all', '*' or comma-separated ISO 3166-1 alpha-2 codes"
    )
    MAX_CODES_PER_DESTINATION: int = _whole(5, 1)
    SMS_PREFIX_HOURLY_LIMIT: int = _whole(20, 1)
    SMS_COUNTRY_HOURLY_LIMIT: int = _whole(1000, 1)
    SMS_GLOBAL_HOURLY_LIMIT: int = _whole(5000, 1)
    # Unless given, MAX_CODES_PER_DESTINATION: no share per network (README.md: Lock-out).
    MAX_CODES_PER_DESTINATION_PER_NETWORK: int | None = Field(
        None, ge=1, description="a whole number of at least 1"
    )
    MAX_FAILED_CODES_PER_NETWORK: int = _whole(10, 1)
    MAX_FAILED_CODES_PER_DAY: int = _whole(30, 1)
    WEBHOOK_RETRY_SCHEDULE: Annotated[
        tuple[Annotated[int, Field(ge=0)], ...], _from_text(lambda text: text.split(","))
    ] = Field((5, 300, 1800, 7200, 18000, 36000, 36000), description="comma-separated whole seconds")
    WEBHOOK_ALLOW_PRIVATE_URLS: Flag = False
    WEBHOOK_LEASE: int = _whole(60, 1, 3600)
    # Past REGISTRATION_TTL's highest value (7 days): a verify asks the outbox whether its account
    # was made, for as long as the registration lives.
    WEBHOOK_EVENT_RETENTION: int = _whole(2592000, 691200)
    DEFAULT_LOCALE: Annotated[Locale, Lowered] = Field("en", description="one of en, ar")
    RATE_LIMIT_REGISTER: Annotated[list[RateLimitItem], _from_text(parse_many)] = Field(
        "20/minute", description="limits such as '20/minute' or '5 per 10 seconds', separated by ';'"
    )
    RATE_LIMIT_VERIFY: Annotated[list[RateLimitItem], _from_text(parse_many)] = Field(
        "30/minute", description="limits such as '30/minute' or '5 per 10 seconds', separated by ';'"
    )
    RATE_LIMITS_ENABLED: Flag = True
    TRUSTED_PROXIES: int = _whole(0, 0, 10)
    CORS_ORIGINS: Annotated[tuple[str, ...], _from_text(_names)] = ()
    ALLOW_INSECURE: Annotated[tuple[str, ...], _from_text(lambda text: _names(text.upper()))] = ()
    DEMO_PAGE: Flag = True  # unless given, False in production (_check_together)

    # Flask and flask-smorest settings, the same for every deployment.
    MAX_CONTENT_LENGTH: ClassVar[int] = 64 * 1024
    API_TITLE: ClassVar[str] = "Registrar"
    API_VERSION: ClassVar[str] = "v1"
    OPENAPI_VERSION: ClassVar[str] = "3.0.3"
    OPENAPI_URL_PREFIX: ClassVar[str] = "/"
    OPENAPI_JSON_PATH: ClassVar[str] = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH: ClassVar[str] = "docs"
    # Swagger UI's files come from the swagger-ui-bundle package, served by app.http: no CDN.
    OPENAPI_SWAGGER_UI_URL: ClassVar[str] = "/docs/assets/"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> "Config":
        """The settings in `environ` alone, or in the process environment when it is None; a
        blank value means the default. ConfigError on the first value the service cannot run with."""
        try:
            config = cls() if environ is None else _GivenConfig(**environ)
        except ValidationError as error:
            given = os.environ if environ is None else environ
            variable = str(error.errors()[0]["loc"][0])
            field = next(f for name, f in cls.model_fields.items() if variable in (name, f.validation_alias))
            words = f"{variable} must be {field.description or 'as API.md §6 describes'}"
            raise ConfigError(f"{words}, not {given[variable].strip()!r}" if field.repr else words) from None
        return config._check_together()

    @model_validator(mode="before")
    @classmethod
    def _blank_means_default(cls, values: dict[str, Any]) -> dict[str, Any]:
        stripped = {
            name: value.strip() if isinstance(value, str) else value for name, value in values.items()
        }
        return {name: value for name, value in stripped.items() if value != ""}

    def _check_together(self) -> Self:
        """The rules across variables, and the defaults that follow from other variables."""
        given = self.model_fields_set
        if refusal := production.unknown_allowances(self.ALLOW_INSECURE):
            raise ConfigError(refusal)
        if self.REGISTRATION_TTL < self.OTP_TTL:
            raise ConfigError(
                f"REGISTRATION_TTL ({self.REGISTRATION_TTL}) must be at least OTP_TTL ({self.OTP_TTL})"
            )
        if "DEMO_PAGE" not in given:
            self.DEMO_PAGE = self.ENVIRONMENT != "production"
        if "SMTP_SSL" not in given:
            self.SMTP_SSL = self.SMTP_PORT == 465
        if self.SMTP_SSL and self.SMTP_STARTTLS and "SMTP_STARTTLS" in given:
            raise ConfigError("SMTP_SSL and SMTP_STARTTLS exclude each other: choose one")
        if self.ENVIRONMENT == "production" and (refusal := production.refusal(self)):
            raise ConfigError(refusal)
        if "DATABASE_URL" not in given:
            self.DATABASE_URL = f"sqlite:///{self.INSTANCE_PATH / 'registrar.db'}"
        return self


class _GivenConfig(Config):
    """Config from the mapping handed to it alone (tests), never from the process environment."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, **_: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)
