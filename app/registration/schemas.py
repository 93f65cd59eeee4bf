"""What registration accepts and answers."""

from flask import current_app
from marshmallow import Schema, ValidationError, fields, post_load

from app import identity
from app.http import request_locale
from app.i18n import LOCALES
from app.registration.service import RegistrationRequest
from app.schemas import DiallingCode


class RegistrationStartSchema(Schema):
    """A registration payload; with `code`, it finalises the newest pending registration.

    `first_name` and `verified_by` are required. Fields only check their JSON type here;
    what the values mean is checked in one pass, so every problem is reported together.
    """

    first_name = fields.String(allow_none=True, metadata={"example": "Sara", "description": "Required."})
    last_name = fields.String(allow_none=True, metadata={"example": None})
    email = fields.String(allow_none=True, metadata={"example": "sara@example.com"})
    phone = fields.String(allow_none=True, metadata={"example": "0551234567"})
    country_code = fields.String(allow_none=True, metadata={"example": "SA"})
    country_key = DiallingCode(allow_none=True, metadata={"example": "+966", "type": "string"})
    verified_by = fields.String(
        allow_none=True,
        metadata={"example": "phone", "enum": list(identity.CHANNELS), "description": "Required."},
    )
    code = fields.String(allow_none=True, load_only=True)
    locale = fields.String(allow_none=True, metadata={"enum": list(LOCALES)})

    @post_load
    def to_request(self, data: dict, **kwargs) -> tuple[RegistrationRequest, str | None]:
        return _normalise(data), data.get("code")


def _normalise(data: dict) -> RegistrationRequest:
    """Check the fields against each other and normalise them, reporting every problem."""
    config = current_app.config
    problems: dict[str, list[str]] = {}

    def report(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    def check(field: str, parse, value, *args, **kwargs):
        if value is None:
            return None
        try:
            return parse(value, *args, **kwargs)
        except identity.InvalidField as problem:
            report(field, str(problem))
            return None

    given = {name for name, value in data.items() if value is not None}
    for field in ("first_name", "verified_by"):
        if field not in given:
            report(field, "Missing data for required field.")
    verified_by = data.get("verified_by")
    if verified_by is not None and verified_by not in identity.CHANNELS:
        report("verified_by", "Must be one of: phone, email.")
    if data.get("locale") is not None and data["locale"] not in LOCALES:
        report("locale", "Must be one of: en, ar.")
    by_phone = verified_by == identity.PHONE
    first_name = check("first_name", identity.clean_name, data.get("first_name"), required=True)
    last_name = check("last_name", identity.clean_name, data.get("last_name"), required=False)
    country_code = check("country_code", identity.clean_country_code, data.get("country_code"))
    if "country_key" in given:
        if "country_code" not in given:
            if "phone" not in given:  # else the phone's own check says it
                report("country_code", "Required when country_key is given.")
        elif country_code:
            check("country_key", identity.check_country_key, data["country_key"], country_code)
    allowed = config["SMS_ALLOWED_COUNTRIES"]
    if by_phone and country_code and allowed is not None and country_code not in allowed:
        report("country_code", "Codes cannot be sent by SMS to this country.")

    phone = None
    if "phone" not in given:
        if by_phone:
            report("phone", "Required when verified_by is phone.")
    elif "country_code" not in given:
        report("country_code", "Required when phone is given.")
    elif country_code:
        phone = check("phone", identity.parse_phone, data["phone"], country_code, mobile=by_phone)

    email = check(
        "email",
        identity.parse_email,
        data.get("email"),
        check_deliverability=config["EMAIL_CHECK_DELIVERABILITY"],
    )
    if "email" not in given and verified_by == identity.EMAIL:
        report("email", "Required when verified_by is email.")

    if problems:
        raise ValidationError(problems)
    return RegistrationRequest(
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        country_code=country_code,
        verified_by=verified_by,
        locale=request_locale(),
    )


class VerifySchema(Schema):
    """The code the customer received."""

    code = fields.String(required=True, metadata={"example": "123456"})


class ResendSchema(Schema):
    """An empty object."""


class ChallengeSchema(Schema):
    """A registration waiting for its code."""

    registration_id = fields.String(required=True, attribute="id")
    status = fields.String(required=True)
    verified_by = fields.String(required=True, attribute="channel")
    destination = fields.String(required=True, attribute="masked")
    code_length = fields.Integer(required=True)
    expires_in = fields.Integer(required=True)
    resend_in = fields.Integer(required=True)
    attempts_left = fields.Integer(required=True)
    resends_left = fields.Integer(required=True)

    class Meta:
        ordered = True


class RegistrationStatusSchema(ChallengeSchema):
    """Where a registration stands."""

    class Meta:
        ordered = True
        exclude = ("code_length",)
