"""`GET /widget/registration.js`, the elements' one file, and `GET /`, the demo page (`DEMO_PAGE`).
Neither is JSON, so they stay out of the OpenAPI document."""

import base64
import gzip
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, request

from app import errors

blp = Blueprint("widget", __name__)
_HERE = Path(__file__).parent
_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)
# An hour's caching, then a revalidation that the ETag makes cheap (a 304 with no body).
_MAX_AGE = 3600


@dataclass(frozen=True)
class Script:
    """The script as stored and gzipped, with an ETag from its content (the same in every worker)."""

    text: bytes
    gzipped: bytes
    etag: str


@cache
def _script() -> Script:
    text = (_HERE / "registration.js").read_bytes()
    return Script(text, gzip.compress(text, 9, mtime=0), hashlib.sha256(text).hexdigest()[:32])


@cache
def _demo_page() -> tuple[bytes, str]:
    """The page, and the Content-Security-Policy that lets its own inline script and style run."""
    html = (_HERE / "demo.html").read_text(encoding="utf-8")
    hashes = {"script": [], "style": []}
    for tag, body in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        hashes[tag].append(f"'sha256-{digest}'")
    policy = (
        f"default-src 'none'; script-src 'self' {' '.join(hashes['script'])}; "
        f"style-src {' '.join(hashes['style'])}; connect-src 'self'; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html.encode(), policy


@blp.get("/widget/registration.js")
def registration_script() -> Response:
    """The file that defines <registration-form> and <login-form>; gzipped for clients that take it."""
    script = _script()
    zipped = request.accept_encodings["gzip"] > 0
    response = Response(script.gzipped if zipped else script.text, mimetype="text/javascript")
    if zipped:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.update(("Accept-Encoding", "Origin"))  # a shared cache keeps one copy per CORS origin
    response.set_etag(f"{script.etag}-gzip" if zipped else script.etag)
    response.cache_control.public = True
    response.cache_control.max_age = _MAX_AGE
    return response.make_conditional(request)


@blp.get("/")
def demo_page() -> Response:
    """Both elements, a language switch and a log of their events."""
    if not current_app.config["DEMO_PAGE"]:
        raise errors.NotFound()
    html, policy = _demo_page()
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": policy})
