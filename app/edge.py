"""What the HTTP edge adds to every answer and notices of every request: the security
headers, closing a connection that a refused body left unusable, and a proxy nobody trusts."""

import logging
import threading

from flask import Flask, Response, current_app, request

from app import serving

log = logging.getLogger("registrar.http")

BODY_METHODS = ("POST", "PUT", "PATCH")


def _body_left_in_the_socket() -> bool:
    """Whether this request's body may be more than gunicorn drains before the next request:
    over the limit, or chunked and not read by any view."""
    if request.content_length is not None:
        return request.content_length > current_app.config["MAX_CONTENT_LENGTH"]
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return chunked and (request.url_rule is None or request.method not in BODY_METHODS)


# Every answer: no sniffing, no framing, no referrer, no caching (answers carry tokens),
# HTTPS only once seen over HTTPS. JSON answers also forbid everything else a browser might
# do with them; the /docs page loads Swagger UI from this service alone.
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
_CSP_JSON = "default-src 'none'; frame-ancestors 'none'"
_CSP_DOCS = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


def secure(response: Response) -> Response:
    """Add each security header the view did not set itself."""
    csp = _CSP_DOCS if response.mimetype == "text/html" else _CSP_JSON
    # One pass over the headers: a setdefault per header costs a scan each (~30 µs a request).
    present = {name.lower() for name, _ in response.headers}
    wanted = {**_SECURITY_HEADERS, "Content-Security-Policy": csp}
    response.headers.extend([(name, value) for name, value in wanted.items() if name.lower() not in present])
    if request.method == "OPTIONS" and response.status_code == 200 and not response.get_data():
        response.status_code = 204  # an empty answer to OPTIONS says so
    if response.status_code == 204:
        del response.headers["Content-Type"]
    if response.status_code == 413 or _body_left_in_the_socket():
        serving.close_connection_after_answer()
    return response


def warn_once_of_forwarded_requests(app: Flask) -> None:
    """With TRUSTED_PROXIES=0, log once per process that requests come through a proxy: the
    limits would count every client behind it as the proxy's one address."""
    first = threading.Lock()  # taken by the first such request, never released

    def check() -> None:
        if "X-Forwarded-For" in request.headers and first.acquire(blocking=False):
            log.warning(
                "a request came with X-Forwarded-For but TRUSTED_PROXIES=0: behind a proxy or load"
                " balancer every client shares one IP's limits; set TRUSTED_PROXIES to the proxies"
                " in front"
            )

    app.before_request(check)
