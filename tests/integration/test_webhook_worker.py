"""The delivery worker as its own process: killed mid-flight it loses nothing, and two
of them side by side deliver each event once."""

import os
import signal
import subprocess
import sys
import time

import pytest

from app.codes import Failure, FailureReason
from config.settings import ROOT
from tests.servers import WebhookReceiver

EVENTS = 200


@pytest.fixture
def receiver():
    server = WebhookReceiver(delay=0.1)
    yield server
    server.stop()


@pytest.fixture
def subscribed(make_app, receiver):
    """An app whose database has one endpoint (the receiver) and EVENTS undelivered events."""
    app = make_app(WEBHOOK_ALLOW_PRIVATE_URLS="true")
    registrar = app.extensions["registrar"]
    receiver.secret = registrar.webhooks.create(receiver.url, ["onRegistrationFailed"])["secret"]
    for number in range(EVENTS):
        reason = FailureReason.CODE_DELIVERY_FAILED
        registrar.registration.outbox.record(
            Failure(f"reg_worker{number:04d}", reason, "phone", "+966 55••••567", "SA")
        )
    return app


def start_worker(base_environment, log_path, lease: int = 2):
    """A worker process; the short default lease lets a killed worker's deliveries return soon."""
    environment = {
        **os.environ,
        **base_environment,
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "WEBHOOK_LEASE": str(lease),
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.mark.server
def test_a_worker_killed_in_the_middle_loses_nothing(subscribed, receiver, base_environment, tmp_path):
    worker = start_worker(base_environment, tmp_path / "worker.log")
    deadline = time.monotonic() + 30
    while len(receiver.deliveries) < 20:
        assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    delivered_before_the_kill = len({d.webhook_id for d in receiver.deliveries})
    assert delivered_before_the_kill < EVENTS, "the kill must land in the middle"

    restarted = start_worker(base_environment, tmp_path / "worker.log")
    try:
        receiver.wait_for(EVENTS, timeout=60)
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)

    # A request the kill cut in half arrives unverifiable; every event still arrives whole.
    assert len({d.webhook_id for d in receiver.deliveries if d.verified}) == EVENTS


@pytest.mark.server
def test_two_workers_side_by_side_deliver_each_event_once(subscribed, receiver, base_environment, tmp_path):
    receiver.delay = 0.01
    # A lease longer than any batch can take even on a loaded machine: a lease that runs out
    # mid-batch lets the other worker send again (at least once, by design), which is not
    # what this test is about; the claims are.
    workers = [start_worker(base_environment, tmp_path / f"worker-{n}.log", lease=60) for n in range(2)]
    try:
        receiver.wait_for(EVENTS, timeout=60)
        time.sleep(1)  # room for a duplicate to show up, were there one
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            assert worker.wait(timeout=30) == 0, "a worker stops cleanly on SIGTERM"

    ids = [d.webhook_id for d in receiver.deliveries]
    # A request the receiver got but whose answer the worker never read ("no answer") is
    # sent again, by design (at least once); every other one arrives exactly once.
    unanswered = sum((tmp_path / f"worker-{n}.log").read_text().count("no answer") for n in range(2))
    assert len(set(ids)) == EVENTS
    assert len(ids) - EVENTS <= unanswered
    assert all(d.verified for d in receiver.deliveries)
