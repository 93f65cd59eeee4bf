"""`/auth/login`: sign an existing customer in with a code (API.md §1b)."""

from flask import current_app, request, url_for
from flask.views import MethodView

from app.http import Blueprint
from app.idempotency import idempotent
from app.login.schemas import LoginChallengeSchema, LoginStartSchema, LoginStatusSchema
from app.login.service import LoginService
from app.openapi import IDEMPOTENCY_KEY, document_errors, location
from app.registration.schemas import ResendSchema, VerifySchema
from app.schemas import SessionSchema

blp = Blueprint(
    "login",
    __name__,
    url_prefix="/auth/login",
    description="Sign an existing customer in with a one-time code.",
)


def service() -> LoginService:
    return current_app.extensions["registrar"].login


def _challenge(challenge):
    return challenge, 202, {"Location": url_for("login.Login", login_id=challenge.id)}


_LOCATION = location("sign-in")
_NOT_FOUND = "No such sign-in, or it lapsed (`login_not_found`)."
_SENDING_ERRORS = {
    400: "A body that is not a JSON object (`bad_request`).",
    413: "The body is over 64 KiB (`payload_too_large`).",
    503: "The code could not be sent, or Redis or the database is unavailable.",
}


@blp.route("")
class Logins(MethodView):
    @idempotent(lambda: current_app.extensions["registrar"].idempotency)
    @blp.arguments(LoginStartSchema())
    @blp.response(
        202,
        LoginChallengeSchema,
        description="A code is on its way, if an account has verified this phone or email.",
        headers=_LOCATION,
    )
    @document_errors(
        blp,
        {
            **_SENDING_ERRORS,
            404: "No account has verified this phone or email (`account_not_found`): only said "
            "when REVEAL_EXISTING_ACCOUNTS is on.",
            409: "`idempotency_conflict`.",
            422: "Some fields are not valid.",
            429: "A limit or budget is spent (`rate_limited`).",
        },
        parameters=[IDEMPOTENCY_KEY],
    )
    def post(self, login):
        """Send a sign-in code to an account's verified phone or email"""
        return _challenge(service().start(login, client_ip=request.remote_addr))


@blp.route("/<login_id>")
class Login(MethodView):
    @blp.response(200, LoginStatusSchema)
    @document_errors(blp, {404: _NOT_FOUND})
    def get(self, login_id):
        """Where a sign-in stands"""
        return service().status(login_id)


@blp.route("/<login_id>/verify")
class LoginVerification(MethodView):
    @blp.arguments(VerifySchema())
    @blp.response(200, SessionSchema, description="Signed in: the customer and new tokens.")
    @document_errors(
        blp,
        {
            400: "Wrong code (`invalid_code`, with `attempts_left`), or a body that is not a JSON "
            "object (`bad_request`).",
            404: _NOT_FOUND,
            409: "`already_completed`.",
            410: "The code expired (`code_expired`): ask for a new one.",
            413: "The body is over 64 KiB (`payload_too_large`).",
            422: "The code is missing or not digits.",
            429: "Locked after too many wrong codes (`too_many_attempts`).",
            503: "Redis or the database is unavailable.",
        },
    )
    def post(self, body, login_id):
        """Check the code and sign the customer in"""
        return service().verify(login_id, body["code"])


@blp.route("/<login_id>/resend")
class LoginResend(MethodView):
    @blp.arguments(ResendSchema())
    @blp.response(
        202,
        LoginChallengeSchema,
        description="A new code is on its way; older codes stop working.",
        headers=_LOCATION,
    )
    @document_errors(
        blp,
        {
            **_SENDING_ERRORS,
            404: _NOT_FOUND,
            409: "`already_completed`.",
            429: "`resend_too_soon` (with `retry_after`), `too_many_resends`, `too_many_attempts` or "
            "`rate_limited`.",
        },
    )
    def post(self, body, login_id):
        """Send a new code"""
        return _challenge(service().resend(login_id))
