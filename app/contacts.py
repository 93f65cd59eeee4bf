"""What registration and sign-in accept about where a code goes, declared once. Rules between fields run
whatever the fields said, so that every problem of form is reported at once (in English, for app.i18n);
the store's own rules (app.identity.ContactPolicy) are checked after the form."""

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validates_schema
from marshmallow.exceptions import SCHEMA
from marshmallow.validate import OneOf

from app import identity
from app.identity import CHANNELS, PHONE, Contact
from config.settings import LOCALES


def _checked(check, *args, field: str = SCHEMA, **kwargs):
    try:
        return check(*args, **kwargs)
    except identity.InvalidField as problem:
        raise ValidationError(str(problem), field) from None


class Name(fields.String):
    """A person's name, trimmed; an optional one that is empty becomes None."""

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        return _checked(identity.clean_name, name, required=self.required)


class CountryCode(fields.String):
    """An ISO 3166-1 alpha-2 code with a numbering plan, upper-cased."""

    def _deserialize(self, value, attr, data, **kwargs):
        return _checked(identity.clean_country_code, super()._deserialize(value, attr, data, **kwargs))


class Email(fields.String):
    """An email address, normalised by email-validator (no DNS look-up here)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return _checked(identity.parse_email, text, check_deliverability=False)


class DiallingCode(fields.Field):
    """A dialling code given as text (`+966`) or a number (`966`); anything else is refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError("Use the dialling code in digits, such as 966 or +966.")
        return str(value)


class ContactSchema(Schema):
    """A phone (with its country) or an email, `verified_by` naming the one the code goes to."""

    verified_by = fields.String(
        required=True, validate=OneOf(CHANNELS), metadata={"example": "phone", "description": "Required."}
    )
    phone = fields.String(load_default=None, metadata={"example": "0551234567"})
    country_code = CountryCode(load_default=None, metadata={"example": "SA"})
    country_key = DiallingCode(load_default=None, metadata={"example": "+966", "type": "string"})
    email = Email(load_default=None, metadata={"example": "sara@example.com"})
    locale = fields.String(load_default=None, validate=OneOf(LOCALES))

    @pre_load
    def drop_nulls(self, data, **kwargs):
        """A null is a field not given: optional, or missing if it is required."""
        return {name: value for name, value in data.items() if value is not None}

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def the_verified_identity_is_given(self, data, original, **kwargs):
        verified_by = data.get("verified_by")
        if verified_by in CHANNELS and original.get(verified_by) is None:
            raise ValidationError(f"Required when verified_by is {verified_by}.", verified_by)

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def a_phone_or_dialling_code_has_its_country(self, data, original, **kwargs):
        if original.get("country_code") is not None:
            return
        if original.get("phone") is not None:
            raise ValidationError("Required when phone is given.", "country_code")
        if original.get("country_key") is not None:
            raise ValidationError("Required when country_key is given.", "country_code")

    @validates_schema(skip_on_field_errors=False)
    def the_dialling_code_is_of_the_country(self, data, **kwargs):
        if data.get("country_code") and data.get("country_key") is not None:
            _checked(
                identity.check_country_key, data["country_key"], data["country_code"], field="country_key"
            )

    @validates_schema(skip_on_field_errors=False)
    def the_phone_is_of_the_country(self, data, **kwargs):
        if data.get("country_code") and data.get("phone") is not None:
            _checked(self._parse_phone, data, field="phone")

    @post_load
    def to_contact(self, data, **kwargs) -> Contact:
        phone = self._parse_phone(data) if data["phone"] is not None else None
        return Contact(data["verified_by"], phone, data["email"], data["country_code"])

    @staticmethod
    def _parse_phone(data) -> str:
        by_sms = data.get("verified_by") == PHONE
        return identity.parse_phone(data["phone"], data["country_code"], mobile=by_sms)
