"""Every setting of API.md §6, read from the environment, typed and checked once at start-up."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, get_args

from pydantic import AfterValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config.variables import (
    ConfigError,
    Countries,
    DatabaseUrl,
    Flag,
    Lowered,
    Origins,
    RateLimits,
    RedisUrl,
    Seconds,
    WholeNumber,
    refusal,
)

ROOT = Path(__file__).resolve().parent.parent

Locale = Literal["en", "ar"]
LOCALES: tuple[str, ...] = get_args(Locale)
PRODUCTION_REQUIRES = ("SECRET_KEY", "JWT_PRIVATE_KEY", "DATABASE_URL", "REDIS_URL")


class Config(BaseSettings):
    """The service's settings, one field per variable of API.md §6. Build it with `Config.load()`."""

    # Only these exact names, and lists are split by config.variables: pydantic-settings would
    # also read lower-case names and JSON-decode list-like values.
    model_config = SettingsConfigDict(case_sensitive=True, enable_decoding=False, extra="ignore")

    ENVIRONMENT: Annotated[Literal["development", "production"], Lowered] = Field(
        "development", validation_alias="REGISTRAR_ENV"
    )
    INSTANCE_PATH: Annotated[Path, AfterValidator(Path.resolve)] = Field(
        ROOT / "instance", description="a path"
    )
    # Unless given, the SQLite file in INSTANCE_PATH (_check_together).
    DATABASE_URL: DatabaseUrl = Field("", repr=False, validate_default=False)
    REDIS_URL: RedisUrl | None = Field(None, repr=False)
    PORT: WholeNumber = Field(8000, ge=1, le=65535)
    ADMIN_API_KEY: str | None = Field(None, min_length=16, repr=False)
    SECRET_KEY: str | None = Field(None, min_length=32, repr=False)
    JWT_PRIVATE_KEY: str | None = Field(None, repr=False)
    JWT_PREVIOUS_PUBLIC_KEYS: str | None = None
    JWT_ISSUER: str = "registrar"
    JWT_AUDIENCE: str = "storefront"
    ACCESS_TOKEN_TTL: WholeNumber = Field(900, ge=60, le=86400)
    REFRESH_TOKEN_TTL: WholeNumber = Field(2592000, ge=300, le=31536000)
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
    SMTP_PORT: WholeNumber = Field(587, ge=1, le=65535)
    SMTP_USER: str | None = None
    SMTP_PASSWORD: str | None = Field(None, repr=False)
    SMTP_STARTTLS: Flag = True
    SMTP_SSL: Flag = False  # unless given, True on port 465 (_check_together)
    MAIL_FROM: str | None = None
    CHANNEL_TIMEOUT: WholeNumber = Field(10, ge=1, le=60)
    STORE_NAME: str = "Registrar"
    WEBOTP_DOMAIN: str | None = None

    OTP_LENGTH: WholeNumber = Field(6, ge=6, le=10)
    OTP_TTL: WholeNumber = Field(300, ge=1, le=86400)
    OTP_MAX_ATTEMPTS: WholeNumber = Field(5, ge=1, le=100)
    RESEND_COOLDOWN: WholeNumber = Field(60, ge=0, le=86400)
    MAX_RESENDS: WholeNumber = Field(3, ge=0, le=100)
    REGISTRATION_TTL: WholeNumber = Field(1800, ge=1, le=604800)
    REVEAL_EXISTING_ACCOUNTS: Flag = False
    SMS_ALLOWED_COUNTRIES: Countries = None
    MAX_CODES_PER_DESTINATION: WholeNumber = Field(5, ge=1)
    SMS_PREFIX_HOURLY_LIMIT: WholeNumber = Field(20, ge=1)
    SMS_COUNTRY_HOURLY_LIMIT: WholeNumber = Field(1000, ge=1)
    WEBHOOK_RETRY_SCHEDULE: Seconds = (5, 300, 1800, 7200, 18000, 36000, 36000)
    WEBHOOK_ALLOW_PRIVATE_URLS: Flag = False
    WEBHOOK_LEASE: WholeNumber = Field(60, ge=1, le=3600)
    DEFAULT_LOCALE: Annotated[Locale, Lowered] = "en"
    RATE_LIMIT_REGISTER: RateLimits = Field("20/minute")
    RATE_LIMITS_ENABLED: Flag = True
    TRUSTED_PROXIES: WholeNumber = Field(0, ge=0, le=10)
    CORS_ORIGINS: Origins = ()

    # Flask and flask-smorest settings, the same for every deployment.
    MAX_CONTENT_LENGTH: ClassVar[int] = 64 * 1024
    API_TITLE: ClassVar[str] = "Registrar"
    API_VERSION: ClassVar[str] = "v1"
    OPENAPI_VERSION: ClassVar[str] = "3.0.3"
    OPENAPI_URL_PREFIX: ClassVar[str] = "/"
    OPENAPI_JSON_PATH: ClassVar[str] = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH: ClassVar[str] = "docs"
    OPENAPI_SWAGGER_UI_URL: ClassVar[str] = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> "Config":
        """The settings in `environ` alone, or in the process environment when it is None.

        Values are stripped and a blank one means the variable's default. Raises ConfigError,
        in one line naming the variable, on the first value the service cannot run with.
        """
        try:
            return cls() if environ is None else _GivenConfig(**environ)
        except ValidationError as error:
            given = os.environ if environ is None else environ
            raise ConfigError(refusal(error.errors()[0], cls.model_fields, given)) from None

    @property
    def uses_embedded_redis(self) -> bool:
        return self.REDIS_URL is None

    @model_validator(mode="before")
    @classmethod
    def _blank_means_default(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Strip every value and drop the blank ones, so that their defaults apply."""
        stripped = {
            name: value.strip() if isinstance(value, str) else value for name, value in values.items()
        }
        return {name: value for name, value in stripped.items() if value != ""}

    @model_validator(mode="after")
    def _check_together(self) -> Self:
        """The rules across variables, and the defaults that follow from other variables."""
        given = set(self.model_fields_set)
        if self.REGISTRATION_TTL < self.OTP_TTL:
            raise ConfigError(
                f"REGISTRATION_TTL ({self.REGISTRATION_TTL}) must be at least OTP_TTL ({self.OTP_TTL})"
            )
        if "SMTP_SSL" not in given:
            self.SMTP_SSL = self.SMTP_PORT == 465
        if self.SMTP_SSL and self.SMTP_STARTTLS and "SMTP_STARTTLS" in given:
            raise ConfigError("SMTP_SSL and SMTP_STARTTLS exclude each other: choose one")
        if self.ENVIRONMENT == "production":
            _refuse_what_production_must_not_run_with(self, given)
        if "DATABASE_URL" not in given:
            self.DATABASE_URL = f"sqlite:///{self.INSTANCE_PATH / 'registrar.db'}"
        return self


class _GivenConfig(Config):
    """Config read from the mapping handed to it alone, never from the process environment."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, **_: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def _refuse_what_production_must_not_run_with(config: Config, given: set[str]) -> None:
    """A console channel first (it logs every code), then every secret and server not set."""
    for variable in ("SMS_CHANNEL", "EMAIL_CHANNEL"):
        if getattr(config, variable) == "console":
            raise ConfigError(
                f"{variable}=console writes every code to the log: "
                "REGISTRAR_ENV=production needs a real channel"
            )
    missing = [name for name in PRODUCTION_REQUIRES if name not in given]
    if missing:
        raise ConfigError(f"REGISTRAR_ENV=production requires {', '.join(missing)} to be set")
