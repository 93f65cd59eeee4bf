"""What login accepts and answers."""

from flask import current_app
from marshmallow import Schema, ValidationError, fields, post_load

from app import identity
from app.http import request_locale
from app.i18n import LOCALES
from app.login.service import LoginRequest
from app.registration.schemas import ChallengeSchema
from app.schemas import DiallingCode

_CHALLENGE_FIELDS = (
    "status",
    "verified_by",
    "destination",
    "code_length",
    "expires_in",
    "resend_in",
    "attempts_left",
    "resends_left",
)


class LoginStartSchema(Schema):
    """Who is signing in: a phone (with its country) or an email, and where the code goes.

    Fields only check their JSON type here; what the values mean is checked in one pass,
    so every problem is reported together.
    """

    verified_by = fields.String(
        allow_none=True,
        metadata={"example": "phone", "enum": list(identity.CHANNELS), "description": "Required."},
    )
    phone = fields.String(allow_none=True, metadata={"example": "0551234567"})
    country_code = fields.String(allow_none=True, metadata={"example": "SA"})
    country_key = DiallingCode(allow_none=True, metadata={"example": "+966", "type": "string"})
    email = fields.String(allow_none=True, metadata={"example": None})
    locale = fields.String(allow_none=True, metadata={"enum": list(LOCALES)})

    @post_load
    def to_request(self, data: dict, **kwargs) -> LoginRequest:
        return _normalise(data)


def _normalise(data: dict) -> LoginRequest:
    """Check the fields against each other and normalise them, reporting every problem."""
    config = current_app.config
    problems: dict[str, list[str]] = {}

    def report(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    def check(field: str, parse, *args, **kwargs):
        try:
            return parse(*args, **kwargs)
        except identity.InvalidField as problem:
            report(field, str(problem))
            return None

    given = {name for name, value in data.items() if value is not None}
    verified_by = data.get("verified_by")
    if verified_by is None:
        report("verified_by", "Missing data for required field.")
    elif verified_by not in identity.CHANNELS:
        report("verified_by", "Must be one of: phone, email.")
    if data.get("locale") is not None and data["locale"] not in LOCALES:
        report("locale", "Must be one of: en, ar.")
    # A sign-in names one identifier: the one the code goes to.
    unused = {identity.PHONE: ("email",), identity.EMAIL: ("phone", "country_code", "country_key")}
    for field in unused.get(verified_by, ()):
        if field in given:
            report(field, f"Not used when verified_by is {verified_by}.")

    phone = email = country_code = None
    if verified_by == identity.PHONE:
        if "country_code" not in given:
            report("country_code", "Required when phone is given.")
        else:
            country_code = check("country_code", identity.clean_country_code, data["country_code"])
        allowed = config["SMS_ALLOWED_COUNTRIES"]
        if country_code and allowed is not None and country_code not in allowed:
            report("country_code", "Codes cannot be sent by SMS to this country.")
        if country_code and "country_key" in given:
            check("country_key", identity.check_country_key, data["country_key"], country_code)
        if "phone" not in given:
            report("phone", "Required when verified_by is phone.")
        elif country_code:
            phone = check("phone", identity.parse_phone, data["phone"], country_code, mobile=True)
    elif verified_by == identity.EMAIL:
        if "email" not in given:
            report("email", "Required when verified_by is email.")
        else:
            deliverability = config["EMAIL_CHECK_DELIVERABILITY"]
            email = check("email", identity.parse_email, data["email"], check_deliverability=deliverability)

    if problems:
        raise ValidationError(problems)
    return LoginRequest(
        verified_by=verified_by,
        phone=phone,
        email=email,
        country_code=country_code,
        locale=request_locale(),
    )


class LoginChallengeSchema(ChallengeSchema):
    """A sign-in waiting for its code."""

    login_id = fields.String(required=True, attribute="id")

    class Meta:
        ordered = True
        fields = ("login_id", *_CHALLENGE_FIELDS)


class LoginStatusSchema(LoginChallengeSchema):
    """Where a sign-in stands."""

    class Meta:
        ordered = True
        fields = ("login_id", *(name for name in _CHALLENGE_FIELDS if name != "code_length"))
