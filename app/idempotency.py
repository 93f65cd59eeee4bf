"""`Idempotency-Key` on start (API.md §1): the same key and body within 24 h get the first 2xx
answer again and send nothing; another body, or a first request still running, get 409. Redis
keeps `idem:{<sha256 of the key>}`: the body's fingerprint, then the answer. A finalisation is
never kept: its answer carries tokens, and Redis holds nothing that could sign somebody in."""

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, jsonify, request
from redis import Redis

from app import errors

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
TTL = 24 * 3600
RUNNING = "running"
IDEMPOTENCY_KEY = {  # the header, as the OpenAPI document describes it
    "in": "header",
    "name": HEADER,
    "required": False,
    "description": "The same key and body within 24 h get the first answer again, and nothing is sent;"
    " a finalisation (a body with `code`) is never kept.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}


@dataclass(frozen=True)
class IdempotencyStore:
    """The first answer of each key, kept for a day."""

    redis: Redis

    @staticmethod
    def _key(idempotency_key: str) -> str:
        return f"idem:{{{hashlib.sha256(idempotency_key.encode()).hexdigest()}}}"

    def begin(self, idempotency_key: str, fingerprint: str) -> dict | None:
        """None if this request is the key's first: go ahead. The first answer to replay if
        it came with the same body; IdempotencyConflict if not, or if it is still running."""
        key = self._key(idempotency_key)
        running = json.dumps({"state": RUNNING, "fingerprint": fingerprint})
        for _ in range(2):  # the first request may just have given its key back
            if self.redis.set(key, running, nx=True, ex=TTL):
                return None
            stored = self.redis.get(key)
            if stored is not None:
                first = json.loads(stored)
                if first["state"] == RUNNING or first["fingerprint"] != fingerprint:
                    raise errors.IdempotencyConflict()
                return first
        raise errors.IdempotencyConflict()

    def keep(self, idempotency_key: str, fingerprint: str, response: Response) -> None:
        """Keep a 2xx answer for the key's replays."""
        answer = {
            "state": "answered",
            "fingerprint": fingerprint,
            "status": response.status_code,
            "location": response.headers.get("Location"),
            "body": response.get_json(),
        }
        self.redis.set(self._key(idempotency_key), json.dumps(answer), xx=True, keepttl=True)

    def give_back(self, idempotency_key: str) -> None:
        """Forget a key whose request did not succeed: it may be used again."""
        self.redis.delete(self._key(idempotency_key))


def idempotent(*, unless: Callable[[dict], bool] = lambda body: False) -> Callable[[Callable], Callable]:
    """Make a view honour Idempotency-Key, with the app's IdempotencyStore, except for bodies `unless`
    picks out: those whose answer carries tokens, never to be kept, nor spared a wrong code's cost."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any):
            idempotency_key = request.headers.get(HEADER)
            if idempotency_key is None or unless(request.json_object):
                return view(*args, **kwargs)
            return _answer_once(idempotency_key, functools.partial(view, *args, **kwargs))

        return wrapper

    return decorator


def _answer_once(idempotency_key: str, view: Callable[[], Response]) -> Response:
    if not idempotency_key.strip() or len(idempotency_key) > MAX_KEY_LENGTH:
        raise errors.BadRequest(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.")
    keys: IdempotencyStore = current_app.extensions["registrar"].idempotency
    canonical = json.dumps(request.json_object, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    fingerprint = hashlib.sha256(f"{request.method} {request.path} {canonical}".encode()).hexdigest()
    if (first := keys.begin(idempotency_key, fingerprint)) is not None:
        replay = jsonify(first["body"])
        replay.status_code = first["status"]
        if first.get("location"):
            replay.headers["Location"] = first["location"]
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    try:
        response = view()
    except BaseException:
        keys.give_back(idempotency_key)
        raise
    if 200 <= response.status_code < 300:
        keys.keep(idempotency_key, fingerprint, response)
    else:
        keys.give_back(idempotency_key)
    return response
