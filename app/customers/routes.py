"""`/customers/me`: the signed-in customer."""

from flask import current_app
from flask.views import MethodView

from app.errors import InvalidToken, ServiceUnavailable
from app.http import Blueprint, bearer_token
from app.schemas import CustomerSchema

blp = Blueprint("customers", __name__, url_prefix="/customers", description="The signed-in customer.")


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, CustomerSchema)
    @blp.raises(InvalidToken, ServiceUnavailable)
    @blp.doc(security=[{"bearerAuth": []}])
    def get(self):
        """The customer the access token belongs to"""
        return current_app.extensions["registrar"].tokens.customer(bearer_token())
