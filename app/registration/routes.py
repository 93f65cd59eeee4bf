"""`/auth/register`: start, finalise, verify, resend and status of a registration."""

from flask import current_app, jsonify, request, url_for
from flask.views import MethodView

from app.codes import Challenge, Codes
from app.errors import (
    BODY_ERRORS,
    CODE_ERRORS,
    SENDING_ERRORS,
    AlreadyRegistered,
    EmailTaken,
    IdempotencyConflict,
    PhoneTaken,
    RegistrationNotFound,
    ResendTooSoon,
    TooManyResends,
)
from app.http import Blueprint
from app.idempotency import IDEMPOTENCY_KEY, idempotent
from app.registration.schemas import RegistrationStartSchema, StartRequest
from app.registration.service import RegistrationService
from app.schemas import (
    RegistrationChallengeSchema,
    RegistrationStatusSchema,
    ResendSchema,
    SessionSchema,
    VerifySchema,
)
from app.tokens import Session

blp = Blueprint(
    "registration",
    __name__,
    url_prefix="/auth/register",
    description="Register a customer with a one-time code.",
)
NOT_FOUND = RegistrationNotFound
LOCATION = {"Location": {"description": "Where the registration's status is", "schema": {"type": "string"}}}
_session = SessionSchema()


def service() -> RegistrationService:
    return current_app.extensions["registrar"].registration


def codes() -> Codes:
    return current_app.extensions["registrar"].registration.codes


def code_sent(challenge: Challenge):
    return challenge, 202, {"Location": url_for("registration.Registration", registration_id=challenge.id)}


def created(session: Session):
    return jsonify(_session.dump(session)), 201


@blp.route("")
class Registrations(MethodView):
    @idempotent
    @blp.arguments(RegistrationStartSchema())
    @blp.response(202, RegistrationChallengeSchema, description="A code is on its way.", headers=LOCATION)
    @blp.alt_response(201, schema=SessionSchema, description="With `code`: the account exists now.")
    @blp.raises(
        *BODY_ERRORS,
        *CODE_ERRORS,
        *SENDING_ERRORS,
        NOT_FOUND,
        AlreadyRegistered,
        EmailTaken,
        PhoneTaken,
        IdempotencyConflict,
    )
    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, start: StartRequest):
        """Start a registration, or finalise one when the body carries `code`"""
        if start.code is not None:
            return created(service().finalise(start.registration, start.code))
        return code_sent(service().start(start.registration, request.locale, client_ip=request.remote_addr))


@blp.route("/<registration_id>")
class Registration(MethodView):
    @blp.response(200, RegistrationStatusSchema)
    @blp.raises(NOT_FOUND)
    def get(self, registration_id):
        """Where a registration stands"""
        return codes().status(registration_id)


@blp.route("/<registration_id>/verify")
class RegistrationVerification(MethodView):
    @blp.arguments(VerifySchema())
    @blp.response(201, SessionSchema, description="The account exists now.")
    @blp.raises(*BODY_ERRORS, *CODE_ERRORS, NOT_FOUND, AlreadyRegistered)
    def post(self, body, registration_id):
        """Check the code and create the account"""
        return service().verify(registration_id, body["code"])


@blp.route("/<registration_id>/resend")
class RegistrationResend(MethodView):
    @blp.arguments(ResendSchema())
    @blp.response(202, RegistrationChallengeSchema, description="A new code is on its way.", headers=LOCATION)
    @blp.raises(
        *BODY_ERRORS,
        *CODE_ERRORS,
        *SENDING_ERRORS,
        NOT_FOUND,
        AlreadyRegistered,
        ResendTooSoon,
        TooManyResends,
    )
    def post(self, _body, registration_id):
        """Send a new code; older codes stop working"""
        return code_sent(codes().resend(registration_id))
