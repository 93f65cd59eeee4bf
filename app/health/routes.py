"""`/healthz` and `/readyz`."""

from flask import current_app
from flask.views import MethodView
from sqlalchemy import text

from app.errors import ServiceUnavailable
from app.http import Blueprint

blp = Blueprint("health", __name__, description="Liveness and readiness.")


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200)
    def get(self):
        """The process is alive"""
        return {"status": "ok"}


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200)
    @blp.alt_response(503, description="Redis or the database cannot be reached.")
    def get(self):
        """Redis and the database answer"""
        registrar = current_app.extensions["registrar"]
        checks = {
            "redis": _check(registrar.redis.ping),
            "database": _check(lambda: _ping_database(registrar.engine)),
        }
        if all(state == "ok" for state in checks.values()):
            return {"status": "ok", "checks": checks}
        raise ServiceUnavailable(checks=checks)


def _ping_database(engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def _check(probe) -> str:
    try:
        probe()
    except Exception:
        return "unavailable"
    return "ok"
