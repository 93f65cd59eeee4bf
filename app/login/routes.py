"""`/auth/login`: sign an existing customer in with a code (API.md §1b)."""

from flask import current_app, request, url_for
from flask.views import MethodView
from werkzeug.local import LocalProxy

from app import errors
from app.codes import Challenge
from app.http import Blueprint
from app.idempotency import IDEMPOTENCY_KEY, idempotent
from app.identity import Contact
from app.login.schemas import LoginStartSchema
from app.login.service import LoginService
from app.schemas import LoginChallengeSchema, LoginStatusSchema, ResendSchema, SessionSchema, VerifySchema

blp = Blueprint(
    "login",
    __name__,
    url_prefix="/auth/login",
    description="Sign an existing customer in with a one-time code.",
)
LOCATION = {"Location": {"description": "Where the sign-in's status is", "schema": {"type": "string"}}}

service: LoginService = LocalProxy(lambda: current_app.extensions["registrar"].login)


def code_sent(challenge: Challenge):
    return challenge, 202, {"Location": url_for("login.Login", login_id=challenge.id)}


@blp.route("")
class Logins(MethodView):
    @idempotent()
    @blp.arguments(LoginStartSchema())
    @blp.response(
        202,
        LoginChallengeSchema,
        description="A code is on its way, if an account has verified this phone or email.",
        headers=LOCATION,
    )
    @blp.raises(
        *errors.BODY_ERRORS, *errors.SENDING_ERRORS, errors.AccountNotFound, errors.IdempotencyConflict
    )
    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, contact: Contact):
        """Send a sign-in code to an account's verified phone or email"""
        return code_sent(service.start(contact, request.locale, client_ip=request.remote_addr))


@blp.route("/<login_id>")
class Login(MethodView):
    @blp.response(200, LoginStatusSchema)
    @blp.raises(errors.LoginNotFound)
    def get(self, login_id):
        """Where a sign-in stands"""
        return service.codes.status(login_id)


@blp.route("/<login_id>/verify")
class LoginVerification(MethodView):
    @blp.arguments(VerifySchema())
    @blp.response(200, SessionSchema, description="Signed in: the customer and new tokens.")
    @blp.raises(*errors.BODY_ERRORS, *errors.CODE_ERRORS, errors.LoginNotFound)
    def post(self, body, login_id):
        """Check the code and sign the customer in"""
        return service.verify(login_id, body["code"], client_ip=request.remote_addr)


@blp.route("/<login_id>/resend")
class LoginResend(MethodView):
    @blp.arguments(ResendSchema())
    @blp.response(202, LoginChallengeSchema, description="A new code is on its way.", headers=LOCATION)
    @blp.raises(*errors.RESEND_ERRORS, errors.LoginNotFound)
    def post(self, _body, login_id):
        """Send a new code; older codes stop working"""
        return code_sent(service.codes.resend(login_id, client_ip=request.remote_addr))
