"""Many requests for one verification at the same moment: each script decides atomically."""

import threading
from collections import Counter
from collections.abc import Callable

from app.codes import Outcome


def all_at_once(count: int, action: Callable[[], Outcome]) -> Counter:
    """Run `action` on `count` threads released together; count the outcomes."""
    barrier = threading.Barrier(count)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        outcome = action()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == count, "a thread failed"
    return Counter(outcomes)


def test_a_hundred_wrong_codes_at_once_are_judged_no_more_than_the_attempts_allow(
    make_store, start, hasher, redis_client
):
    store = make_store(max_attempts=5)
    started = start(store)
    wrong_hash = hasher.code(started.id, "000000")

    outcomes = all_at_once(100, lambda: store.check(started.id, "register", wrong_hash).outcome)

    assert outcomes == Counter({Outcome.WRONG: 4, Outcome.LOCKED_NOW: 1, Outcome.LOCKED: 95})
    assert redis_client.hget(started.key, "attempts") == "0"
    assert redis_client.hget(started.key, "status") == "locked"


def test_of_twenty_right_codes_at_once_exactly_one_claims_the_verification(make_store, start, hasher):
    store = make_store()
    started = start(store)
    right_hash = hasher.code(started.id, started.code)

    outcomes = all_at_once(20, lambda: store.check(started.id, "register", right_hash).outcome)

    assert outcomes == Counter({Outcome.OK: 1, Outcome.CLAIMED: 19})
