"""`/auth/register`: start, finalise, verify, resend and status of a registration."""

from flask import current_app, jsonify, request, url_for
from flask.views import MethodView

from app.http import Blueprint
from app.idempotency import idempotent
from app.openapi import IDEMPOTENCY_KEY, document_errors, location
from app.registration.schemas import (
    ChallengeSchema,
    RegistrationStartSchema,
    RegistrationStatusSchema,
    ResendSchema,
    VerifySchema,
)
from app.registration.service import RegistrationService
from app.schemas import SessionSchema

blp = Blueprint(
    "registration",
    __name__,
    url_prefix="/auth/register",
    description="Register a customer with a one-time code.",
)


def service() -> RegistrationService:
    return current_app.extensions["registrar"].registration


_session = SessionSchema()


def _created(registered):
    response = jsonify(_session.dump(registered))
    response.status_code = 201
    return response


def _challenge(challenge):
    return challenge, 202, {"Location": url_for("registration.Registration", registration_id=challenge.id)}


_VERIFY_ERRORS = {
    400: "Wrong code (`invalid_code`, with `attempts_left`), or a body that is not a JSON object "
    "(`bad_request`).",
    404: "No such registration, or it lapsed.",
    409: "`already_registered`, `already_completed`, `email_taken` or `phone_taken`.",
    410: "The code expired (`code_expired`): ask for a new one.",
    413: "The body is over 64 KiB (`payload_too_large`).",
    429: "Locked after too many wrong codes (`too_many_attempts`).",
    503: "Redis or the database is unavailable.",
}
_LOCATION = location("registration")


def _document_errors(statuses: dict[int, str], **extra):
    return document_errors(blp, statuses, **extra)


@blp.route("")
class Registrations(MethodView):
    @idempotent(lambda: current_app.extensions["registrar"].idempotency)
    @blp.arguments(RegistrationStartSchema())
    @blp.response(202, ChallengeSchema, description="A code is on its way.", headers=_LOCATION)
    @blp.alt_response(201, schema=SessionSchema, description="With `code`: the account exists now.")
    @_document_errors(
        {
            **_VERIFY_ERRORS,
            409: "`already_registered`, `already_completed`, `email_taken`, `phone_taken` or "
            "`idempotency_conflict`.",
            422: "Some fields are not valid.",
            429: "`too_many_attempts`, or a limit or budget is spent (`rate_limited`).",
            503: "The code could not be sent, or Redis or the database is unavailable.",
        },
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, payload):
        """Start a registration, or finalise one when the body carries `code`"""
        registration, code = payload
        if code is not None:
            return _created(service().finalise(registration, code))
        return _challenge(service().start(registration, client_ip=request.remote_addr))


@blp.route("/<registration_id>")
class Registration(MethodView):
    @blp.response(200, RegistrationStatusSchema)
    @_document_errors({404: "No such registration, or it lapsed."})
    def get(self, registration_id):
        """Where a registration stands"""
        return service().status(registration_id)


@blp.route("/<registration_id>/verify")
class RegistrationVerification(MethodView):
    @blp.arguments(VerifySchema())
    @blp.response(201, SessionSchema, description="The account exists now.")
    @_document_errors({**_VERIFY_ERRORS, 422: "The code is missing or not digits."})
    def post(self, body, registration_id):
        """Check the code and create the account"""
        return service().verify(registration_id, body["code"])


@blp.route("/<registration_id>/resend")
class RegistrationResend(MethodView):
    @blp.arguments(ResendSchema())
    @blp.response(
        202,
        ChallengeSchema,
        description="A new code is on its way; older codes stop working.",
        headers=_LOCATION,
    )
    @_document_errors(
        {
            400: "A body that is not a JSON object (`bad_request`).",
            413: "The body is over 64 KiB (`payload_too_large`).",
            404: "No such registration, or it lapsed.",
            409: "`already_registered` or `already_completed`.",
            429: "`resend_too_soon` (with `retry_after`), `too_many_resends`, `too_many_attempts` or "
            "`rate_limited`.",
            503: "The code could not be sent, or Redis is unavailable.",
        }
    )
    def post(self, body, registration_id):
        """Send a new code"""
        return _challenge(service().resend(registration_id))
