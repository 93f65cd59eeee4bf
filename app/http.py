"""The HTTP edge: JSON bodies in, the contract's error envelope out, in the request's locale.

`register(app)` installs it. Every error the service can meet (our own, werkzeug's,
marshmallow's, a Redis or database outage, a bug) leaves as JSON, never HTML or a trace.
"""

import json
import logging
import traceback
from typing import Any

import flask_smorest
from flask import Flask, Response, current_app, g, jsonify, request
from redis import exceptions as redis_errors
from sqlalchemy import exc as sql_errors
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from app import errors
from app.i18n import best_locale, translate, translate_errors

log = logging.getLogger("registrar.http")

_BODY_METHODS = ("POST", "PUT", "PATCH")
_WERKZEUG_ERRORS: dict[int, type[errors.RegistrarError]] = {
    400: errors.BadRequest,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.BadRequest,
}
_UNAVAILABLE = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
    sql_errors.OperationalError,
    sql_errors.InterfaceError,
    sql_errors.TimeoutError,  # no pooled connection came free in time
)


class JsonBodyParser(FlaskParser):
    """Hands webargs the body `check_body` already parsed, instead of parsing it again."""

    def _raw_load_json(self, req) -> Any:
        body = g.get("json_body")
        return core.missing if body is None else body


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint reading the one parsed JSON body."""

    ARGUMENTS_PARSER = JsonBodyParser()


def request_locale() -> str:
    """The request's locale: the body's `locale`, else Accept-Language, else DEFAULT_LOCALE."""
    if "locale" not in g:
        body = g.get("json_body") or {}
        candidates = [body.get("locale"), request.accept_languages.best_match(("en", "ar"))]
        g.locale = best_locale(candidates, current_app.config["DEFAULT_LOCALE"])
    return g.locale


def check_body() -> None:
    """Parse a JSON object body once, before any view runs.

    An empty body counts as `{}`; anything else must be a JSON object sent as
    application/json, or the answer is 400 bad_request.
    """
    if "\x00" in request.path:
        raise errors.NotFound()  # no id holds a NUL, and the database cannot store one
    if request.method not in _BODY_METHODS or request.url_rule is None:
        return
    raw = request.get_data(cache=True)
    if not raw.strip():
        g.json_body = {}
        return
    if not request.mimetype or not (
        request.mimetype == "application/json" or request.mimetype.endswith("+json")
    ):
        raise errors.BadRequest("Send the body as application/json.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise errors.BadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise errors.BadRequest()
    problem = _unfit(body)
    if problem:
        raise errors.BadRequest(problem)
    g.json_body = body


MAX_DEPTH = 32


def _unfit(body: dict) -> str | None:
    """What in a parsed body no field could take: nesting deeper than any schema (which
    recursive code would choke on), or half a UTF-16 pair (`"\\ud800"`, no text at all)."""
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return "The request body is nested too deeply."
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "The request body is not valid JSON."
    return None


def render_error(error: errors.RegistrarError) -> Response:
    """The contract's envelope: code, message in the request's locale, and the error's data."""
    locale = request_locale()
    body: dict[str, Any] = {"code": error.code, "message": translate(error.message, locale)}
    for name, value in error.data.items():
        body[name] = translate_errors(value, locale) if name == "errors" else value
    response = jsonify(body)
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def handle_http_exception(exception: HTTPException) -> Response:
    """Werkzeug's and webargs' errors, in our envelope."""
    data = getattr(exception, "data", None) or {}
    if exception.code == 422 and "messages" in data:
        messages = data["messages"]
        return render_error(errors.ValidationFailed(errors=messages.get("json", messages)))
    error_class = _WERKZEUG_ERRORS.get(exception.code)
    if error_class is None:
        error = errors.HttpError(exception.code or 500, exception.name or "error", exception.description)
    else:
        error = error_class()
    if exception.code == 405 and getattr(exception, "valid_methods", None):
        error.headers["Allow"] = ", ".join(exception.valid_methods)
    return render_error(error)


def handle_unstorable(exception: Exception) -> Response:
    """A value the database refuses (a check of ours missed it): the client's, not a 500."""
    log.warning("value refused by the database: %s", type(exception.orig).__name__)
    return render_error(errors.BadRequest("The request holds a value that cannot be stored."))


def handle_unavailable(exception: Exception) -> Response:
    log.warning("dependency unavailable: %s", type(exception).__name__)
    return render_error(errors.ServiceUnavailable())


def handle_unexpected(exception: Exception) -> Response:
    # The stack, but not the exception's message: a database's message can quote the
    # phone or email of the row it refused.
    stack = "".join(traceback.format_tb(exception.__traceback__))
    log.error("unhandled %s on %s %s\n%s", type(exception).__name__, request.method, request.path, stack)
    return render_error(errors.RegistrarError())


# Every answer: no sniffing, no framing, no referrer, no caching (answers carry tokens),
# HTTPS only once seen over HTTPS. JSON answers also forbid everything else a browser might
# do with them; the /docs page may load Swagger UI from its CDN.
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
_CSP_JSON = "default-src 'none'; frame-ancestors 'none'"
_CSP_DOCS = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net; img-src data: https://cdn.jsdelivr.net; "
    "connect-src 'self'; frame-ancestors 'none'"
)


def secure(response: Response) -> Response:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault(
        "Content-Security-Policy", _CSP_DOCS if response.mimetype == "text/html" else _CSP_JSON
    )
    if request.method == "OPTIONS" and response.status_code == 200 and not response.get_data():
        response.status_code = 204  # an empty answer to OPTIONS says so
    if response.status_code == 204:
        del response.headers["Content-Type"]
    return response


def register(app: Flask) -> None:
    """Install body parsing, error rendering and security headers; call after the Api."""
    # `//` in a path would otherwise answer with werkzeug's HTML redirect page.
    app.url_map.merge_slashes = False
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.json.mimetype = "application/json; charset=utf-8"
    app.before_request(check_body)
    app.after_request(secure)
    app.register_error_handler(errors.RegistrarError, render_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for exception_class in _UNAVAILABLE:
        app.register_error_handler(exception_class, handle_unavailable)
    app.register_error_handler(sql_errors.DataError, handle_unstorable)
    app.register_error_handler(Exception, handle_unexpected)
