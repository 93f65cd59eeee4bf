"""The HTTP edge: JSON bodies in, the contract's error envelope out, in the request's locale.
Every error (ours, werkzeug's, marshmallow's, an outage, a bug) leaves as JSON, never HTML."""

import json
import logging
import traceback
from collections import defaultdict
from functools import cached_property
from typing import Any

import flask
import flask_smorest
from flask import Flask, Response, current_app, jsonify, request
from flask.sessions import SessionInterface
from flask.typing import ResponseReturnValue
from redis import exceptions as redis_errors
from sqlalchemy import exc as sql_errors
from swagger_ui_bundle import swagger_ui_path
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException

from app import edge, errors, serving
from app.edge import BODY_METHODS
from app.i18n import translate, translate_errors
from app.schemas import ErrorResponseSchema
from config.settings import LOCALES

log = logging.getLogger("registrar.http")

MAX_DEPTH = 32
_WERKZEUG_ERRORS: dict[int, type[errors.RegistrarError]] = {
    400: errors.BadRequest,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    413: errors.PayloadTooLarge,
    415: errors.BadRequest,
}
_UNAVAILABLE = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,  # BusyLoadingError is a ConnectionError
    sql_errors.OperationalError,
    sql_errors.InterfaceError,
    sql_errors.TimeoutError,  # no pooled connection came free in time
)
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait (with `retry_after`)", "schema": {"type": "integer"}}
}


def bearer_token() -> str:
    """The request's `Authorization: Bearer` token; InvalidToken if there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.InvalidToken()
    return token.strip()


class Request(flask.Request):
    """Flask's request, with the body read once as the JSON object every endpoint takes."""

    @cached_property
    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; anything else (an empty body too) is BadRequest, and a
        body over MAX_CONTENT_LENGTH, chunked or not, is PayloadTooLarge."""
        raw = self.get_data(cache=True)
        # werkzeug stops a chunked body at the limit without saying whether more followed.
        unmeasured = self.content_length is None and len(raw) >= self.max_content_length
        if unmeasured and self.environ["wsgi.input"].read(1):
            raise errors.PayloadTooLarge()
        if not raw.strip():
            raise errors.BadRequest()
        if not self.is_json:
            raise errors.BadRequest("Send the body as application/json.")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise errors.BadRequest("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise errors.BadRequest()
        if problem := _unfit(body):
            raise errors.BadRequest(problem)
        return body

    @cached_property
    def locale(self) -> str:
        """The body's `locale`, else the best of Accept-Language, else DEFAULT_LOCALE."""
        try:
            given = self.json_object.get("locale") if self.method in BODY_METHODS else None
        except (errors.RegistrarError, HTTPException):  # a body no view takes has no locale
            given = None
        if given in LOCALES:
            return given
        return self.accept_languages.best_match(LOCALES) or current_app.config["DEFAULT_LOCALE"]


def _unfit(body: dict) -> str | None:
    """What no field could take: nesting deeper than any schema (recursive code would choke
    on it), or half a UTF-16 pair (`"\\ud800"`, no text at all)."""
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


class NoSessions(SessionInterface):
    """The service keeps no cookie session (Flask would sign one per request): every request gets
    Flask's null session, which is never saved."""

    def open_session(self, app, request) -> None:
        return None


class JsonObjectParser(FlaskParser):
    """webargs' Flask parser, loading arguments from the request's checked JSON object."""

    def load_json(self, req: Request, schema) -> dict[str, Any]:
        return req.json_object


class RegistrarApi(flask_smorest.Api):
    """flask-smorest's Api, documenting our error envelope instead of its own."""

    ERROR_SCHEMA = ErrorResponseSchema


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint that reads the JSON object body and documents its errors."""

    ARGUMENTS_PARSER = JsonObjectParser()

    def raises(self, *error_classes: type[errors.RegistrarError]):
        """Document the error answers of a view from the errors it may raise."""
        by_status = defaultdict(list)
        for error_class in error_classes:
            by_status[error_class.status].append(error_class)
        responses = {
            status: {
                "description": " ".join(f"`{error.code}`: {error.__doc__}" for error in group),
                "content": {"application/json": {"schema": ErrorResponseSchema}},
                **({"headers": _RETRY_AFTER} if status == 429 else {}),
            }
            for status, group in sorted(by_status.items())
        }
        return self.doc(responses=responses)


def check_request() -> None:
    """Refuse, before any view, a NUL in the path (no id holds one, no database stores one)
    or a body that is not a JSON object. A view without a body schema takes no body at all;
    one with a schema refuses an empty body when it loads its arguments."""
    if "\x00" in request.path:
        raise errors.NotFound()
    if request.method in BODY_METHODS and request.url_rule is not None and request.get_data(cache=True):
        request.json_object  # noqa: B018 (parsed now, so that every endpoint refuses junk alike)


def render_error(error: errors.RegistrarError) -> ResponseReturnValue:
    """The contract's envelope: code, message in the request's locale, and the error's data."""
    locale = request.locale
    body: dict[str, Any] = {"code": error.code, "message": translate(error.message, locale)}
    for name, value in error.data.items():
        body[name] = translate_errors(value, locale) if name == "errors" else value
    return jsonify(body), error.status, error.headers


def handle_http_exception(exception: HTTPException) -> ResponseReturnValue:
    """Werkzeug's and webargs' errors, in our envelope."""
    data = getattr(exception, "data", None) or {}
    if exception.code == 422 and "messages" in data:
        messages = data["messages"]
        return render_error(errors.ValidationFailed(errors=messages.get("json", messages)))
    if error_class := _WERKZEUG_ERRORS.get(exception.code):
        error = error_class()
    else:
        error = errors.HttpError(exception.code or 500, exception.name or "error", exception.description)
    if exception.code == 405 and getattr(exception, "valid_methods", None):
        error.headers["Allow"] = ", ".join(exception.valid_methods)
    return render_error(error)


def handle_unstorable(exception: Exception) -> ResponseReturnValue:
    """A value the database refuses (a check of ours missed it): the client's, not a 500."""
    log.warning("value refused by the database: %s", type(exception.orig).__name__)
    return render_error(errors.BadRequest("The request holds a value that cannot be stored."))


def handle_unreadable_body(exception: Exception) -> ResponseReturnValue:
    """A body whose framing is broken (a bad chunk): nothing after it can be read either."""
    serving.close_connection_after_answer()
    return render_error(errors.BadRequest("The request body could not be read."))


def handle_unavailable(exception: Exception) -> ResponseReturnValue:
    log.warning("dependency unavailable: %s", type(exception).__name__)
    return render_error(errors.ServiceUnavailable())


def handle_unexpected(exception: Exception) -> ResponseReturnValue:
    # The stack, but not the exception's message: a database's message can quote the
    # phone or email of the row it refused.
    stack = "".join(traceback.format_tb(exception.__traceback__))
    log.error("unhandled %s on %s %s\n%s", type(exception).__name__, request.method, request.path, stack)
    return render_error(errors.RegistrarError())


def swagger_ui_asset(filename: str) -> Response:
    """A script, style or image of Swagger UI for /docs, from the swagger-ui-bundle package."""
    return flask.send_from_directory(swagger_ui_path, filename, max_age=86400)


def register(app: Flask) -> None:
    """Install body parsing, error rendering and security headers; call after the Api."""
    app.request_class = Request
    app.session_interface = NoSessions()
    # `//` in a path would otherwise answer with werkzeug's HTML redirect page.
    app.url_map.merge_slashes = False
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.json.mimetype = "application/json; charset=utf-8"
    app.add_url_rule("/docs/assets/<path:filename>", "swagger_ui_asset", swagger_ui_asset)
    app.before_request(check_request)
    app.after_request(edge.secure)
    app.register_error_handler(errors.RegistrarError, render_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for exception_class in _UNAVAILABLE:
        app.register_error_handler(exception_class, handle_unavailable)
    app.register_error_handler(sql_errors.DataError, handle_unstorable)
    app.register_error_handler(serving.UNREADABLE_BODY, handle_unreadable_body)
    app.register_error_handler(Exception, handle_unexpected)
