"""`/auth/token/refresh` and the JWK Set."""

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields
from werkzeug.local import LocalProxy

from app.errors import BODY_ERRORS, InvalidToken, ServiceUnavailable
from app.http import Blueprint, bearer_token
from app.schemas import TokensSchema
from app.tokens.service import TokenService

blp = Blueprint("tokens", __name__, description="Access and refresh tokens.")
tokens: TokenService = LocalProxy(lambda: current_app.extensions["registrar"].tokens)


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True)


@blp.route("/auth/token/refresh")
class TokenRefresh(MethodView):
    @blp.arguments(RefreshSchema())
    @blp.response(200, TokensSchema)
    @blp.raises(*BODY_ERRORS, InvalidToken)
    def post(self, body):
        """Trade a refresh token for new tokens (the old one stops working)"""
        return tokens.refresh(body["refresh_token"])


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.arguments(RefreshSchema())
    @blp.response(204, description="Signed out: the refresh token and its family are revoked.")
    @blp.raises(*BODY_ERRORS)
    def post(self, body):
        """Sign out: revoke the refresh token's family (the access token simply expires)"""
        tokens.revoke(body["refresh_token"])


@blp.route("/auth/logout/all")
class LogoutEverywhere(MethodView):
    @blp.response(204, description="Signed out everywhere: every refresh token of the customer is revoked.")
    @blp.raises(InvalidToken, ServiceUnavailable)
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self):
        """Sign out everywhere: revoke every refresh token of the access token's customer"""
        tokens.revoke_all(tokens.customer_id(bearer_token()))


@blp.route("/.well-known/jwks.json")
class KeySet(MethodView):
    @blp.response(200)
    def get(self):
        """The public keys that verify access tokens (JWK Set)"""
        return tokens.keys.jwks()
