"""The texts that carry a code, in English and Arabic."""

from app.channels.base import Message

_TEXTS = {
    "en": {
        "sms": "{code} is your {store} code. It expires in {minutes} min. Don't share it.",
        "subject": "{code} is your {store} code",
        "email": "Your {store} code is {code}.\n\nIt expires in {minutes} minutes. "
        "If you did not ask for it, you can ignore this email.",
    },
    "ar": {
        "sms": "رمز التحقق في {store}: {code}\nصالح لمدة {minutes} دقيقة. لا تشاركه مع أحد.",
        "subject": "رمز التحقق في {store}: {code}",
        "email": "رمز التحقق الخاص بك في {store} هو {code}.\n\nالرمز صالح لمدة {minutes} دقيقة. "
        "إذا لم تطلبه، تجاهل هذه الرسالة.",
    },
}


def code_message(channel: str, code: str, *, locale: str, store: str, minutes: int) -> Message:
    """The message that carries `code` over `channel` ("phone" or "email")."""
    texts = _TEXTS[locale]
    values = {"code": code, "store": store, "minutes": minutes}
    if channel == "phone":
        return Message(texts["sms"].format(**values))
    return Message(texts["email"].format(**values), subject=texts["subject"].format(**values))
