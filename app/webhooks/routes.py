"""`/webhooks`: the admin API, behind `Authorization: Bearer <ADMIN_API_KEY>`."""

import hmac

from flask import current_app, request
from flask.views import MethodView

from app.errors import BODY_ERRORS, NotFound, Unauthorized
from app.http import Blueprint
from app.webhooks.schemas import DeliverySchema, WebhookCreatedSchema, WebhookCreateSchema, WebhookSchema
from app.webhooks.service import WebhookAdmin

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="Webhook subscriptions (admin).")


@blp.before_request
def require_admin_key() -> None:
    """Without ADMIN_API_KEY the admin API is off: every request is unauthorized."""
    key = current_app.config["ADMIN_API_KEY"]
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not key or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), key.encode()):
        raise Unauthorized()


def admin() -> WebhookAdmin:
    return current_app.extensions["registrar"].webhooks


@blp.route("")
class Webhooks(MethodView):
    @blp.response(200, WebhookSchema(many=True))
    @blp.raises(Unauthorized)
    @blp.doc(security=[{"adminKey": []}])
    def get(self):
        """Every endpoint"""
        return admin().endpoints()

    @blp.arguments(WebhookCreateSchema())
    @blp.response(201, WebhookCreatedSchema)
    @blp.raises(*BODY_ERRORS, Unauthorized)
    @blp.doc(security=[{"adminKey": []}])
    def post(self, body):
        """Subscribe an endpoint (its secret is shown only in this answer)"""
        return admin().create(body["url"], body["events"], body.get("description"))


@blp.route("/<webhook_id>")
class Webhook(MethodView):
    @blp.response(200, WebhookSchema)
    @blp.raises(Unauthorized, NotFound)
    @blp.doc(security=[{"adminKey": []}])
    def get(self, webhook_id):
        """One endpoint"""
        return admin().get(webhook_id)

    @blp.response(204)
    @blp.raises(Unauthorized, NotFound)
    @blp.doc(security=[{"adminKey": []}])
    def delete(self, webhook_id):
        """Remove an endpoint and its deliveries"""
        admin().remove(webhook_id)


@blp.route("/<webhook_id>/deliveries")
class Deliveries(MethodView):
    @blp.response(200, DeliverySchema(many=True))
    @blp.raises(Unauthorized, NotFound)
    @blp.doc(security=[{"adminKey": []}])
    def get(self, webhook_id):
        """The endpoint's deliveries, newest first"""
        return admin().deliveries(webhook_id)


@blp.route("/<webhook_id>/deliveries/<delivery_id>/redeliver")
class Redelivery(MethodView):
    @blp.response(202, DeliverySchema)
    @blp.raises(Unauthorized, NotFound)
    @blp.doc(security=[{"adminKey": []}])
    def post(self, webhook_id, delivery_id):
        """Send the delivery's event again"""
        return admin().redeliver(webhook_id, delivery_id)
