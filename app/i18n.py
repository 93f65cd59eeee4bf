"""English and Arabic texts for everything a customer reads in an API answer. English strings
are the message ids (as in gettext); a message with no translation stays in English."""

import json
from functools import cache
from pathlib import Path

_LOCALES = Path(__file__).with_name("locales")


@cache
def _catalogue(locale: str) -> dict[str, str]:
    """The translations of `locale`, from locales/<locale>.json (none for English)."""
    path = _LOCALES / f"{locale}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def translate(message: str, locale: str) -> str:
    """The message in `locale`, or in English when there is no translation."""
    return _catalogue(locale).get(message, message)


def translate_errors(errors: dict, locale: str) -> dict[str, list[str]]:
    """Translate marshmallow's field → messages, flattening what it nests (a list's items) into
    the field's list, each message prefixed with where it applies (`0: Not a valid string.`)."""
    return {field: _messages(messages, locale) for field, messages in errors.items()}


def _messages(messages, locale: str, where: str = "") -> list[str]:
    if isinstance(messages, dict):
        return [
            message
            for key, inner in messages.items()
            for message in _messages(inner, locale, f"{where}{key}: ")
        ]
    if isinstance(messages, str):
        messages = [messages]
    return [where + translate(str(message), locale) for message in messages]
