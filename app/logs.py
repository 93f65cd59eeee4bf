"""Logs as JSON lines, one per request too, each with the request's id. A line says ids,
statuses, paths and masked destinations, never a code, a token, a full phone number or email
(but for the console channel, a development tool that logs codes by design)."""

import contextvars
import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, g, request

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access = logging.getLogger("registrar.access")
# The id of the request being served: work it hands to another thread (with
# contextvars.copy_context) logs under the same id.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the request id (in a request), and `fields` if given."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        line.update(getattr(record, "fields", {}))
        return json.dumps(line, ensure_ascii=False)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when it writes (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging() -> None:
    """JSON lines on stderr for everything the service logs (once per process)."""
    root = logging.getLogger()
    if any(isinstance(handler.formatter, JsonFormatter) for handler in root.handlers):
        return
    handler = _Stderr()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def register(app: Flask) -> None:
    """Give every request an id (a client's well-formed X-Request-ID, else a new one),
    echo it, and log one line when it is answered."""

    @app.before_request
    def name_the_request() -> None:
        given = request.headers.get("X-Request-ID", "")
        request_id_var.set(given if _REQUEST_ID.match(given) else uuid.uuid4().hex)
        g.started = time.perf_counter()

    @app.after_request
    def log_the_request(response: Response) -> Response:
        request_id = request_id_var.get() or uuid.uuid4().hex
        response.headers["X-Request-ID"] = request_id
        started = g.get("started")
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
        }
        extra = {"request_id": request_id, "fields": fields}
        access.info("%s %s %s", request.method, request.path, response.status_code, extra=extra)
        return response

    @app.teardown_request
    def forget_the_request(_error: BaseException | None) -> None:
        request_id_var.set(None)
