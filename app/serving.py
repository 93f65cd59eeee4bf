"""Registrar under gunicorn (config/gunicorn.conf.py): what the app and the server tell each
other about a connection, and gunicorn's own error answers in the contract's JSON.

A 413 leaves the rest of an oversized body unread in the socket. gunicorn drains at most
64 KiB of it before the next request; past that it drops the connection, after an answer
that promised to keep it, and a client that sent its next request meanwhile gets no answer
(API.md §4). So a refused body closes the connection: the worker hands this thread its
request, and the app, having refused the body, asks gunicorn to close, which it announces
with `Connection: close` (a WSGI app may not set that header itself)."""

import json
import threading

from gunicorn.http.errors import ParseException
from gunicorn.workers.gthread import ThreadWorker

from app import errors

# What reading a body gunicorn cannot make sense of raises (a bad chunk size, a missing
# terminator): the client's fault, after which the connection cannot carry another request.
UNREADABLE_BODY = ParseException
_serving = threading.local()


def close_connection_after_answer() -> None:
    """Close the connection once this answer is sent (a no-op outside gunicorn)."""
    request = getattr(_serving, "request", None)
    if request is not None:
        request.force_close()


class _Captured:
    """Stands in for the client's socket while gunicorn writes its error page, keeping the page."""

    def __init__(self):
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0  # gunicorn then writes at once, without switching blocking modes

    def sendall(self, data: bytes) -> None:
        self.data += data


class JsonErrorWorker(ThreadWorker):
    """gunicorn's threaded worker, answering the requests gunicorn itself refuses (a request
    line or headers too long, a malformed request line or header, a bad chunk) with the
    contract's JSON envelope instead of an HTML page. gunicorn still decides the status and
    logs the refusal; only the page is replaced. The thread that runs a request knows it."""

    def handle_request(self, req, conn) -> bool:
        _serving.request = req
        try:
            return super().handle_request(req, conn)
        finally:
            _serving.request = None

    def handle_error(self, req, client, addr, exc) -> None:
        page = _Captured()
        super().handle_error(req, page, addr, exc)
        status_line = page.data.split(b"\r\n", 1)[0].decode("latin-1")
        try:
            _, status_text, reason = status_line.split(" ", 2)
            status = int(status_text)
        except ValueError:
            status, reason = 500, "Internal Server Error"
        try:
            client.sendall(json_error_answer(status, reason))
        except OSError:
            self.log.debug("Failed to send error message.")


def json_error_answer(status: int, reason: str) -> bytes:
    """A whole HTTP answer, closing the connection, with the contract's error envelope."""
    if status == 400:
        error: errors.RegistrarError = errors.BadRequest("The request could not be read as HTTP.")
    elif status >= 500:
        error = errors.RegistrarError()
    else:
        error = errors.HttpError(status, reason, f"{reason}.")
    body = json.dumps({"code": error.code, "message": error.message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body
