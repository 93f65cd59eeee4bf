"""SendTimes: a code that is not sent (a login for no account) imitates the recent sends."""

import time

from app.verification import SendTimes


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def timed(call) -> tuple[object, float]:
    began = time.monotonic()
    result = call()
    return result, time.monotonic() - began


def test_with_no_recent_send_it_answers_at_once_as_delivered():
    delivered, took = timed(lambda: SendTimes().imitate("phone"))
    assert delivered is True
    assert took < 0.05


def test_it_takes_as_long_as_a_recent_send_of_its_channel():
    times = SendTimes()
    times.record("phone", 0.2, delivered=True)
    times.record("email", 0.0, delivered=True)

    delivered, took = timed(lambda: times.imitate("phone"))

    assert delivered is True
    assert took >= 0.2


def test_it_fails_when_the_recent_sends_failed():
    times = SendTimes()
    times.record("phone", 0.01, delivered=False)
    assert times.imitate("phone") is False
    assert times.imitate("email") is True


def test_it_draws_from_the_recent_sends_in_their_proportions():
    times = SendTimes()
    for delivered in (True, True, True, False):
        times.record("phone", 0.0, delivered=delivered)
    outcomes = [times.imitate("phone") for _ in range(400)]
    assert 200 < outcomes.count(True) < 390


def test_sends_older_than_the_horizon_are_forgotten():
    clock = Clock()
    times = SendTimes(horizon=300, clock=clock)
    times.record("phone", 0.01, delivered=False)
    clock.now += 301
    assert times.imitate("phone") is True


def test_only_the_last_sends_are_kept():
    times = SendTimes(size=2)
    times.record("phone", 0.0, delivered=False)
    times.record("phone", 0.0, delivered=True)
    times.record("phone", 0.0, delivered=True)
    assert all(times.imitate("phone") for _ in range(50))
