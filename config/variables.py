"""How one environment variable is read: its text parsed into a typed value, or refused in one
line that names it. The types here annotate config.settings.Config's fields."""

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import phonenumbers
from limits import RateLimitItem, parse_many
from pydantic import AfterValidator, BeforeValidator, Field, NonNegativeInt
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

REDIS_SCHEMES = ("redis", "rediss", "unix")
DATABASE_DRIVERS = ("sqlite", "postgresql+psycopg")


class ConfigError(ValueError):
    """A setting has a value the service cannot run with; the message names it."""


def _from_text(parse: Callable[[str], Any]) -> BeforeValidator:
    """Parse a variable's text; a value that is not text (a default) is already parsed."""
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


def _flag(text: str) -> bool:
    if text.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError(text)
    return text.lower() in ("1", "true", "yes", "on")


def _countries(text: str) -> frozenset[str] | None:
    """`all` or `*` is every country (None); else ISO codes that phonenumbers knows, upper-cased."""
    if text.lower() in ("all", "*"):
        return None
    codes = frozenset(part.strip().upper() for part in text.split(",") if part.strip())
    if not codes or not codes <= phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(text)
    return codes


def _redis_url(url: str) -> str:
    """Refuse a URL redis-py cannot connect with, naming only its scheme: it may hold a password."""
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        raise ConfigError(
            f"REDIS_URL must be a redis://, rediss:// or unix:// URL, not one of scheme {scheme!r}"
        )
    return url


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


# int() and four words each way: pydantic alone would also take "8.0" for 8, or "t" and "n".
WholeNumber = Annotated[int, _from_text(int)]
Flag = Annotated[bool, _from_text(_flag)]
Lowered = _from_text(str.lower)
Origins = Annotated[
    tuple[str, ...], _from_text(lambda text: tuple(filter(None, map(str.strip, text.split(",")))))
]
Countries = Annotated[
    frozenset[str] | None,
    _from_text(_countries),
    Field(description="'all', '*' or comma-separated ISO 3166-1 alpha-2 codes"),
]
Seconds = Annotated[
    tuple[NonNegativeInt, ...],
    _from_text(lambda text: tuple(int(part) for part in text.split(","))),
    Field(description="comma-separated whole seconds"),
]
RateLimits = Annotated[
    list[RateLimitItem],
    _from_text(parse_many),
    Field(description="limits such as '20/minute' or '5 per 10 seconds', separated by ';'"),
]
RedisUrl = Annotated[str, AfterValidator(_redis_url)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]


def refusal(error: ErrorDetails, fields: Mapping[str, FieldInfo], environ: Mapping[str, str]) -> str:
    """One line naming the variable, what it allows and, unless it is secret, the value given."""
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):
        return str(cause)
    variable = str(error["loc"][0])
    field = next(field for name, field in fields.items() if variable in (name, field.validation_alias))
    words = f"{variable} must be {_allowed(field)}"
    return f"{words}, not {str(environ[variable]).strip()!r}" if field.repr else words


def _allowed(field: FieldInfo) -> str:
    """What a variable may hold, in words, read from its field's declaration."""
    rules = {
        key: getattr(rule, key)
        for rule in field.metadata
        for key in ("ge", "le", "min_length")
        if hasattr(rule, key)
    }
    if field.description:
        return field.description
    if field.annotation is bool:
        return "true or false"
    if get_origin(field.annotation) is Literal:
        return f"one of {', '.join(get_args(field.annotation))}"
    if "min_length" in rules:
        return f"at least {rules['min_length']} characters long"
    if "le" in rules:
        return f"a whole number from {rules['ge']} to {rules['le']}"
    if "ge" in rules:
        return f"a whole number of at least {rules['ge']}"
    return "as API.md §6 describes"
