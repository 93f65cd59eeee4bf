"""The contract's errors (API.md §4): one exception per error code, carrying its data. Services
raise them; `app.http` alone turns them, and every werkzeug or marshmallow error, into JSON."""

from typing import Any, ClassVar


class RegistrarError(Exception):
    """Base of every error the contract names."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    message: ClassVar[str] = "Something went wrong on our side."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None, **data: Any):
        self.message = message or self.message
        super().__init__(self.message)
        self.data = data
        self.headers = headers or {}


class BadRequest(RegistrarError):
    """The body is not JSON, not an object, or not sent as application/json."""

    status, code, message = 400, "bad_request", "The request body must be a JSON object."


class InvalidCode(RegistrarError):
    """The code is not the one we sent; `attempts_left` says how many tries remain."""

    status, code, message = 400, "invalid_code", "That code is not correct."


class InvalidToken(RegistrarError):
    """The access or refresh token is missing, malformed, expired or revoked."""

    status, code, message = 401, "invalid_token", "The token is missing, invalid or expired."


class Unauthorized(RegistrarError):
    """The admin API key is missing or wrong."""

    status, code, message = 401, "unauthorized", "A valid API key is required."


class NotFound(RegistrarError):
    """No such path or resource."""

    status, code, message = 404, "not_found", "Nothing lives at this address."


class RegistrationNotFound(RegistrarError):
    """The registration does not exist or has lapsed."""

    status, code, message = 404, "registration_not_found", "This registration does not exist or has expired."


class LoginNotFound(RegistrarError):
    """The login does not exist or has lapsed."""

    status, code, message = 404, "login_not_found", "This sign-in does not exist or has expired."


class AccountNotFound(RegistrarError):
    """No account has this identity (only said when REVEAL_EXISTING_ACCOUNTS is on)."""

    status, code, message = 404, "account_not_found", "No account uses this phone number or email."


class MethodNotAllowed(RegistrarError):
    """The path exists but not with this HTTP method."""

    status, code, message = 405, "method_not_allowed", "This method is not allowed here."


class AlreadyRegistered(RegistrarError):
    """The verified identity already has an account."""

    status, code, message = 409, "already_registered", "An account with these details already exists."


class AlreadyCompleted(RegistrarError):
    """The registration has already become an account."""

    status, code, message = 409, "already_completed", "This registration is already complete."


class EmailTaken(RegistrarError):
    """Another account uses this email."""

    status, code, message = 409, "email_taken", "Another account uses this email address."


class PhoneTaken(RegistrarError):
    """Another account uses this phone number."""

    status, code, message = 409, "phone_taken", "Another account uses this phone number."


class IdempotencyConflict(RegistrarError):
    """The Idempotency-Key was used with another body, or its first request is still running."""

    status, code, message = 409, "idempotency_conflict", "This Idempotency-Key was used for another request."


class CodeExpired(RegistrarError):
    """The code's time is up; ask for a new one."""

    status, code, message = 410, "code_expired", "This code has expired. Ask for a new one."


class PayloadTooLarge(RegistrarError):
    """The body is over 64 KiB."""

    status, code, message = 413, "payload_too_large", "The request body is too large."


class ValidationFailed(RegistrarError):
    """One or more fields are wrong; `errors` maps each field to its messages."""

    status, code, message = 422, "validation_error", "Some fields are not valid."


class TooManyAttempts(RegistrarError):
    """Every wrong attempt is used up: the registration is locked for good."""

    status, code, message = 429, "too_many_attempts", "Too many wrong codes. Start again."


class ResendTooSoon(RegistrarError):
    """A new code was asked for before the cooldown ended; `retry_after` says when."""

    status, code, message = 429, "resend_too_soon", "Please wait before asking for a new code."


class TooManyResends(RegistrarError):
    """No new codes are left for this registration."""

    status, code = 429, "too_many_resends"
    message = "No more codes can be sent. Use the last one or start again."


class RateLimited(RegistrarError):
    """A rate limit or budget is spent; `retry_after` says when to try again."""

    status, code, message = 429, "rate_limited", "Too many requests. Try again later."


class ChannelUnavailable(RegistrarError):
    """The SMS or email channel could not deliver the code."""

    status, code = 503, "channel_unavailable"
    message = "We could not send the code right now. Try again shortly."


class ServiceUnavailable(RegistrarError):
    """Redis or the database cannot be reached."""

    status, code, message = 503, "service_unavailable", "The service is temporarily unavailable."


class HttpError(RegistrarError):
    """Any other HTTP error (werkzeug's), under its own status and a code made of its name."""

    def __init__(self, status: int, name: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = name.lower().replace(" ", "_").replace("'", "")


# What views have in common: any that takes a body; checks a code; sends one; sends another.
BODY_ERRORS = (BadRequest, PayloadTooLarge, ValidationFailed, ServiceUnavailable)
CODE_ERRORS = (InvalidCode, CodeExpired, TooManyAttempts, AlreadyCompleted)
SENDING_ERRORS = (RateLimited, ChannelUnavailable)
RESEND_ERRORS = (
    *BODY_ERRORS,
    *SENDING_ERRORS,
    TooManyAttempts,
    AlreadyCompleted,
    ResendTooSoon,
    TooManyResends,
)


def with_retry_after(error_class: type[RegistrarError], seconds: int, **data: Any) -> RegistrarError:
    """An error that tells the client, in body and header, how long to wait."""
    seconds = max(1, int(seconds))
    return error_class(retry_after=seconds, headers={"Retry-After": str(seconds)}, **data)
