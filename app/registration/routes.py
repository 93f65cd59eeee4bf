"""`/auth/register`: start, finalise, verify, resend and status of a registration."""

from flask import current_app, jsonify, request, url_for
from flask.views import MethodView
from werkzeug.local import LocalProxy

from app import errors, schemas
from app.codes import Challenge
from app.http import Blueprint
from app.idempotency import IDEMPOTENCY_KEY, idempotent
from app.registration.schemas import RegistrationStartSchema, StartRequest
from app.registration.service import RegistrationService

blp = Blueprint(
    "registration",
    __name__,
    url_prefix="/auth/register",
    description="Register a customer with a one-time code.",
)
LOCATION = {"Location": {"description": "Where the registration's status is", "schema": {"type": "string"}}}
_session = schemas.SessionSchema()

service: RegistrationService = LocalProxy(lambda: current_app.extensions["registrar"].registration)


def code_sent(challenge: Challenge):
    return challenge, 202, {"Location": url_for("registration.Registration", registration_id=challenge.id)}


@blp.route("")
class Registrations(MethodView):
    @idempotent(unless=lambda body: body.get("code") is not None)  # a finalisation carries tokens
    @blp.arguments(RegistrationStartSchema())
    @blp.response(202, schemas.ChallengeSchema, description="A code is on its way.", headers=LOCATION)
    @blp.alt_response(201, schema=schemas.SessionSchema, description="With `code`: the account exists now.")
    @blp.raises(
        *errors.BODY_ERRORS,
        *errors.CODE_ERRORS,
        *errors.SENDING_ERRORS,
        errors.RegistrationNotFound,
        errors.AlreadyRegistered,
        errors.EmailTaken,
        errors.PhoneTaken,
        errors.IdempotencyConflict,
    )
    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, start: StartRequest):
        """Start a registration, or finalise one when the body carries `code`"""
        if start.code is not None:
            session = service.finalise(start.registration, start.code, client_ip=request.remote_addr)
            return jsonify(_session.dump(session)), 201
        return code_sent(service.start(start.registration, request.locale, client_ip=request.remote_addr))


@blp.route("/<registration_id>")
class Registration(MethodView):
    @blp.response(200, schemas.RegistrationStatusSchema)
    @blp.raises(errors.RegistrationNotFound)
    def get(self, registration_id):
        """Where a registration stands"""
        return service.codes.status(registration_id)


@blp.route("/<registration_id>/verify")
class RegistrationVerification(MethodView):
    @blp.arguments(schemas.VerifySchema())
    @blp.response(201, schemas.SessionSchema, description="The account exists now.")
    @blp.raises(
        *errors.BODY_ERRORS, *errors.CODE_ERRORS, errors.RegistrationNotFound, errors.AlreadyRegistered
    )
    def post(self, body, registration_id):
        """Check the code and create the account"""
        return service.verify(registration_id, body["code"], client_ip=request.remote_addr)


@blp.route("/<registration_id>/resend")
class RegistrationResend(MethodView):
    @blp.arguments(schemas.ResendSchema())
    @blp.response(202, schemas.ChallengeSchema, description="A new code is on its way.", headers=LOCATION)
    @blp.raises(*errors.RESEND_ERRORS, errors.RegistrationNotFound, errors.AlreadyRegistered)
    def post(self, _body, registration_id):
        """Send a new code; older codes stop working"""
        return code_sent(service.codes.resend(registration_id, client_ip=request.remote_addr))
