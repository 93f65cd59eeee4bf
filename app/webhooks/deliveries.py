"""A delivery's life: created pending, attempted, then succeeded, retried or failed."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from app.codes.hashing import new_identifier

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
# What `after_attempt` sets, whatever the outcome.
STATE_FIELDS = ("attempts", "last_status_code", "lease_until", "lease_token", "status", "next_attempt_at")


def new_delivery(event_id: str, endpoint_id: str, now: datetime) -> dict:
    """A delivery of an event to an endpoint, due at once."""
    return {
        "id": new_identifier("dlv"),
        "event_id": event_id,
        "endpoint_id": endpoint_id,
        "status": PENDING,
        "attempts": 0,
        "last_status_code": None,
        "next_attempt_at": now,
        "lease_until": None,
        "lease_token": None,
        "created_at": now,
    }


def after_attempt(
    attempts_before: int, status_code: int | None, schedule: Sequence[int], now: datetime, jitter: float
) -> dict:
    """The delivery's new state once an attempt got `status_code` (None: no answer). 2xx
    succeeds; 410 Gone fails for good; anything else is retried `schedule[n]` seconds times
    `jitter` after the n-th failed attempt, until the schedule is spent, then fails."""
    attempts = attempts_before + 1
    state = {"attempts": attempts, "last_status_code": status_code, "lease_until": None, "lease_token": None}
    if status_code is not None and 200 <= status_code < 300:
        return {**state, "status": SUCCEEDED, "next_attempt_at": None}
    if status_code == 410 or attempts > len(schedule):
        return {**state, "status": FAILED, "next_attempt_at": None}
    wait = timedelta(seconds=schedule[attempts - 1] * jitter)
    return {**state, "status": PENDING, "next_attempt_at": now + wait}
