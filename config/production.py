"""What REGISTRAR_ENV=production refuses (API.md §6): settings that are safe on a developer's
machine and unsafe in front of customers. Each refusal is one line naming the variable;
ALLOW_INSECURE names those an operator keeps on purpose."""

from collections.abc import Callable
from typing import Any

REQUIRES = ("SECRET_KEY", "JWT_PRIVATE_KEY", "DATABASE_URL", "REDIS_URL")
_PLAIN_HTTP = "is plain http://: codes and credentials would cross the network unencrypted"


def _plain_http(url: str | None) -> bool:
    return str(url or "").lower().startswith("http://")


# Each setting production refuses unless ALLOW_INSECURE names it: when it is unsafe, and why.
# Gateway and provider URLs carry codes or credentials (more as channels arrive: SMS_HOOK_URL).
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "RATE_LIMITS_ENABLED": (
        lambda config: not config.RATE_LIMITS_ENABLED,
        "=false turns off every limit and budget: anyone could send SMS at the store's expense",
    ),
    "WEBHOOK_ALLOW_PRIVATE_URLS": (
        lambda config: config.WEBHOOK_ALLOW_PRIVATE_URLS,
        "=true lets webhook endpoints reach loopback and private addresses (SSRF)",
    ),
    "SMS_ALLOWED_COUNTRIES": (
        lambda config: bool(config.SMS_CHANNEL) and "SMS_ALLOWED_COUNTRIES" not in config.model_fields_set,
        "is not set: name the countries that may receive SMS, or '*' for every country on purpose",
    ),
    "SMS_HTTP_URL": (lambda config: _plain_http(config.SMS_HTTP_URL), _PLAIN_HTTP),
    "TWILIO_API_BASE": (lambda config: _plain_http(config.TWILIO_API_BASE), _PLAIN_HTTP),
    "SMTP_STARTTLS": (
        lambda config: bool(config.SMTP_USER) and not (config.SMTP_STARTTLS or config.SMTP_SSL),
        "=false with SMTP_USER set sends the SMTP password unencrypted: use SMTP_STARTTLS or SMTP_SSL",
    ),
}


def unknown_allowances(allowed: tuple[str, ...]) -> str | None:
    """The refusal for an ALLOW_INSECURE that names something no rule refuses, else None."""
    if unknown := [name for name in allowed if name not in RULES]:
        return f"ALLOW_INSECURE may name {', '.join(RULES)}, not {', '.join(unknown)}"
    return None


def refusal(config: Any) -> str | None:
    """Why production cannot run with `config`, else None: a console channel first (it logs
    every code), then every secret and server not set, then the first unsafe setting that
    ALLOW_INSECURE does not keep."""
    for variable in ("SMS_CHANNEL", "EMAIL_CHANNEL"):
        if getattr(config, variable) == "console":
            return (
                f"{variable}=console writes every code to the log: "
                "REGISTRAR_ENV=production needs a real channel"
            )
    if missing := [name for name in REQUIRES if name not in config.model_fields_set]:
        return f"REGISTRAR_ENV=production requires {', '.join(missing)} to be set"
    for variable, (unsafe, why) in RULES.items():
        if variable not in config.ALLOW_INSECURE and unsafe(config):
            separator = "" if why.startswith("=") else " "
            return (
                f"{variable}{separator}{why}; REGISTRAR_ENV=production refuses it "
                f"unless ALLOW_INSECURE={variable}"
            )
    return None
