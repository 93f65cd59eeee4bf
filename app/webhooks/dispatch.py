"""Which claimed deliveries go out next: at most `per_endpoint` at once to any one endpoint and
`concurrency` in all, the endpoints taking turns, and none once its claim's lease has run out. A
slow endpoint so holds at most `per_endpoint` threads, each for one deadline, while the others'
deliveries go on. A send that ends starts the next at once, and waits in `ended` to be recorded."""

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

from app.webhooks.sender import Attempt

Outcome = tuple[Attempt, int | None]  # a send that ended, and the status it was answered with


class Dispatcher:
    """Queues attempts and starts them as the limits allow, from any thread."""

    def __init__(self, send: Callable[[Attempt], int | None], *, concurrency: int, per_endpoint: int):
        self.send = send
        self.concurrency, self.per_endpoint = concurrency, per_endpoint
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self._changed = threading.Condition()
        self._waiting: dict[str, deque[Attempt]] = {}  # by endpoint, in the order they take turns
        self._running: Counter[str] = Counter()  # by endpoint
        self._ended: list[Outcome] = []

    @property
    def busy(self) -> bool:
        """Whether any attempt is waiting or running."""
        with self._changed:
            return bool(self._waiting or self._running.total())

    def waiting(self) -> list[Attempt]:
        """The attempts not started yet."""
        with self._changed:
            return [attempt for waiting in self._waiting.values() for attempt in waiting]

    def start(self, attempts: Iterable[Attempt] = ()) -> None:
        """Queue `attempts`, drop those whose lease ran out before they could start (they are
        claimed again), and start what the limits allow, one per endpoint in turn."""
        with self._changed:
            for attempt in attempts:
                self._waiting.setdefault(attempt.endpoint_id, deque()).append(attempt)
            now, starting, turn = time.monotonic(), [], True
            while turn:
                turn = False
                for endpoint_id, waiting in list(self._waiting.items()):
                    while waiting and waiting[0].lease_ends <= now:
                        waiting.popleft()
                    fits = self._running.total() < self.concurrency
                    if waiting and fits and self._running[endpoint_id] < self.per_endpoint:
                        self._running[endpoint_id] += 1
                        starting.append(waiting.popleft())
                        turn = True
                    if not waiting:
                        del self._waiting[endpoint_id]
            # The lock is reentrant: a send that ends at once reports (and starts the next) in here.
            for attempt in starting:
                self._pool.submit(self.send, attempt).add_done_callback(partial(self._report, attempt))

    def ended(self) -> list[Outcome]:
        """The sends that ended since the last call, to be recorded."""
        with self._changed:
            ended, self._ended = self._ended, []
            return ended

    def wait(self, timeout: float) -> None:
        """Until a send ends (unless one ended since the last `ended`), or `timeout` seconds."""
        with self._changed:
            if not self._ended:
                self._changed.wait(timeout)

    def abandon(self, endpoint_id: str | None = None) -> None:
        """Forget the attempts not started (to one endpoint, or to all): their leases run out, and
        they are claimed again if still pending."""
        with self._changed:
            if endpoint_id is None:
                self._waiting.clear()
            else:
                self._waiting.pop(endpoint_id, None)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _report(self, attempt: Attempt, future: Future) -> None:
        # The sender answers None for every failure, so an exception here is a bug: no answer.
        status_code = None if future.cancelled() or future.exception() else future.result()
        with self._changed:
            self._ended.append((attempt, status_code))
            self._running[attempt.endpoint_id] -= 1
            self._changed.notify()
            self.start()
