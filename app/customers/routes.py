"""`/customers/me`: the signed-in customer."""

from flask import current_app, request
from flask.views import MethodView

from app.errors import InvalidToken, ServiceUnavailable
from app.http import Blueprint
from app.schemas import CustomerSchema

blp = Blueprint("customers", __name__, url_prefix="/customers", description="The signed-in customer.")


def bearer_token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken()
    return token.strip()


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, CustomerSchema)
    @blp.raises(InvalidToken, ServiceUnavailable)
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self):
        """The customer the access token belongs to"""
        return current_app.extensions["registrar"].tokens.customer(bearer_token())
