"""Schemas shared by several resources: the customer, a signed-in session, the error envelope."""

from datetime import UTC

from marshmallow import Schema, ValidationError, fields


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC to the second, `2026-11-22T00:26:37Z` (documented as date-time)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DiallingCode(fields.Field):
    """A dialling code given as text (`+966`) or a number (`966`); anything else is refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError("Use the dialling code in digits, such as 966 or +966.")
        return str(value)


class ErrorResponseSchema(Schema):
    """Every error: a machine code, a message in the request's locale, and details."""

    code = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.Raw())
    attempts_left = fields.Integer()
    retry_after = fields.Integer()


class CustomerSchema(Schema):
    """A customer as clients see it."""

    id = fields.String(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(required=True, allow_none=True)
    email = fields.String(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True)
    country_code = fields.String(required=True, allow_none=True)
    verified_by = fields.String(required=True)
    phone_verified = fields.Boolean(required=True)
    email_verified = fields.Boolean(required=True)
    locale = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class TokensSchema(Schema):
    """A new access token and refresh token."""

    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    refresh_token = fields.String(required=True)


class SessionSchema(Schema):
    """A signed-in customer: the account and its tokens."""

    customer = fields.Nested(CustomerSchema, required=True)
    access_token = fields.String(required=True, attribute="tokens.access_token")
    token_type = fields.String(required=True, attribute="tokens.token_type")
    expires_in = fields.Integer(required=True, attribute="tokens.expires_in")
    refresh_token = fields.String(required=True, attribute="tokens.refresh_token")

    class Meta:
        ordered = True
