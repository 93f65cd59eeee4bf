"""The texts that carry a code, in English and Arabic: an SMS of one segment when a wording
fits, ending with the WebOTP line `@<domain> #<code>` when WEBOTP_DOMAIN is set (phones and
browsers fill the code in); an email from the Jinja2 templates beside this file."""

import math
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.channels.base import Message
from app.identity import PHONE

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

# Wordings from the fullest to the barest; the first to fit one segment is sent.
_SMS = {
    "en": (
        "{code} is your {store} code. It expires in {minutes}. Don't share it.",
        "{code} is your {store} code. It expires in {minutes}.",
        "{code} is your {store} code.",
        "{code} is your code.",
    ),
    "ar": (
        "رمز التحقق في {store}: {code}\nصالح لمدة {minutes}. لا تشاركه مع أحد.",
        "رمز التحقق في {store}: {code}\nصالح لمدة {minutes}.",
        "رمز التحقق في {store}: {code}",
        "رمز التحقق: {code}",
    ),
}
_SUBJECT = {"en": "{code} is your {store} code", "ar": "رمز التحقق في {store}: {code}"}

_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")  # each takes two septets
_GSM7_ALL = _GSM7 | _GSM7_EXTENDED


def minutes(count: int, locale: str) -> str:
    """`5 min` in English; in Arabic, the noun agrees with the number as Arabic wants."""
    if locale != "ar":
        return f"{count} min"
    if count == 1:
        return "دقيقة واحدة"
    if count == 2:
        return "دقيقتين"
    if 3 <= count <= 10:
        return f"{count} دقائق"
    return f"{count} دقيقة"


def sms_segments(text: str) -> int:
    """How many SMS segments `text` takes (GSM-7 if it can, else UCS-2)."""
    characters = set(text)
    if characters <= _GSM7_ALL:
        septets = len(text) + sum(text.count(char) for char in characters & _GSM7_EXTENDED)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def sms_text(code: str, *, locale: str, store: str, minutes_left: int, webotp_domain: str | None) -> str:
    """The SMS for `code`: the fullest wording that fits one segment, else the barest."""
    webotp = f"\n\n@{webotp_domain} #{code}" if webotp_domain else ""
    values = {"code": code, "store": store, "minutes": minutes(minutes_left, locale)}
    wordings = [wording.format(**values) + webotp for wording in _SMS[locale]]
    return next((text for text in wordings if sms_segments(text) == 1), wordings[-1])


def code_message(
    channel: str, code: str, *, locale: str, store: str, minutes_left: int, webotp_domain: str | None = None
) -> Message:
    """The message that carries `code` over `channel` ("phone" or "email")."""
    if channel == PHONE:
        return Message(
            sms_text(code, locale=locale, store=store, minutes_left=minutes_left, webotp_domain=webotp_domain)
        )
    values = {"code": code, "store": store, "minutes": minutes(minutes_left, locale)}
    return Message(
        text=_TEMPLATES.get_template(f"code_email.{locale}.txt").render(values),
        subject=_SUBJECT[locale].format(**values),
        html=_TEMPLATES.get_template(f"code_email.{locale}.html").render(values),
    )
