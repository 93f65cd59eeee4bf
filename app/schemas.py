"""Schemas several resources share: the customer, a session, a challenge, a code, an error."""

from datetime import UTC

from marshmallow import Schema, fields


class UtcDateTime(fields.DateTime):
    """ISO 8601 in UTC to the second, `2026-11-22T00:26:37Z` (documented as date-time)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


class VerifySchema(Schema):
    """The code the customer received."""

    code = fields.String(required=True, metadata={"example": "123456"})


class ResendSchema(Schema):
    """An empty object."""


def _challenge_schemas(id_name: str, challenge: str, status: str) -> tuple[type[Schema], type[Schema]]:
    """The schemas named `challenge` (a registration or sign-in waiting for its code, under
    `id_name`) and `status` (where it stands: the same without `code_length`)."""
    waiting = {
        id_name: fields.String(required=True, attribute="id"),
        "status": fields.String(required=True),
        "verified_by": fields.String(required=True, attribute="channel"),
        "destination": fields.String(required=True, attribute="masked"),
        "code_length": fields.Integer(required=True),
        "expires_in": fields.Integer(required=True),
        "resend_in": fields.Integer(required=True),
        "attempts_left": fields.Integer(required=True),
        "resends_left": fields.Integer(required=True),
    }
    standing = {name: field for name, field in waiting.items() if name != "code_length"}
    return Schema.from_dict(waiting, name=challenge), Schema.from_dict(standing, name=status)


ChallengeSchema, RegistrationStatusSchema = _challenge_schemas(
    "registration_id", "ChallengeSchema", "RegistrationStatusSchema"
)
LoginChallengeSchema, LoginStatusSchema = _challenge_schemas(
    "login_id", "LoginChallengeSchema", "LoginStatusSchema"
)
