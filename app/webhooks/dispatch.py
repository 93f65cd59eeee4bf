"""Which claimed deliveries go out next: at most `per_endpoint` at once to any one endpoint and
`concurrency` in all, the endpoints taking turns, and none once its claim's lease has run out. A
slow endpoint so holds at most `per_endpoint` threads, each for one deadline, while the others'
deliveries go on. Used from the worker's own thread; sends run in a pool and report back."""

import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from app.webhooks.sender import Attempt


@dataclass(frozen=True)
class Flight:
    """A claimed delivery: its attempt, the claim's lease token, and when (time.monotonic()) the
    lease runs out, after which another worker may send it."""

    attempt: Attempt
    token: str
    lease_ends: float


@dataclass(frozen=True)
class Outcome:
    """A send that ended: the status it was answered with, None if there was none."""

    flight: Flight
    status_code: int | None


class Dispatcher:
    """Queues flights per endpoint and starts them as the limits allow."""

    def __init__(self, send: Callable[[Attempt], int | None], *, concurrency: int, per_endpoint: int):
        self.send = send
        self.concurrency, self.per_endpoint = concurrency, per_endpoint
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self._waiting: dict[str, deque[Flight]] = {}  # by endpoint, in the order they take turns
        self._running: Counter[str] = Counter()
        self._ended: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._woken = threading.Event()

    @property
    def waiting(self) -> int:
        return sum(len(flights) for flights in self._waiting.values())

    @property
    def running(self) -> int:
        return self._running.total()

    def queued_for(self) -> set[str]:
        """The endpoints with flights still waiting: claiming more for them would only queue."""
        return set(self._waiting)

    def add(self, flights: Iterable[Flight]) -> None:
        for flight in flights:
            self._waiting.setdefault(flight.attempt.endpoint_id, deque()).append(flight)

    def start(self) -> int:
        """Start what the limits allow, endpoints taking turns; drop the flights whose lease ran
        out before they could start (they are claimed again). How many were dropped."""
        dropped = self._drop_lapsed()
        started = True
        while started and self.running < self.concurrency:
            started = False
            for endpoint_id, flights in list(self._waiting.items()):
                if self.running >= self.concurrency:
                    break
                if self._running[endpoint_id] < self.per_endpoint:
                    self._launch(flights.popleft())
                    started = True
                if not flights:
                    del self._waiting[endpoint_id]
        return dropped

    def ended(self) -> list[Outcome]:
        """The sends that ended since the last call; their endpoints may take new ones."""
        outcomes = []
        while True:
            try:
                outcome = self._ended.get_nowait()
            except queue.Empty:
                return outcomes
            self._running[outcome.flight.attempt.endpoint_id] -= 1
            outcomes.append(outcome)

    def wait(self, timeout: float) -> None:
        """Until a send ends, or `timeout` seconds."""
        self._woken.wait(timeout)
        self._woken.clear()

    def abandon(self, endpoint_id: str | None = None) -> None:
        """Forget the flights not started (to one endpoint, or to all): their leases run out, and
        they are claimed again if still pending."""
        if endpoint_id is None:
            self._waiting.clear()
        else:
            self._waiting.pop(endpoint_id, None)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _drop_lapsed(self) -> int:
        now, dropped = time.monotonic(), 0
        for endpoint_id, flights in list(self._waiting.items()):
            while flights and flights[0].lease_ends <= now:
                flights.popleft()
                dropped += 1
            if not flights:
                del self._waiting[endpoint_id]
        return dropped

    def _launch(self, flight: Flight) -> None:
        self._running[flight.attempt.endpoint_id] += 1
        self._pool.submit(self.send, flight.attempt).add_done_callback(
            lambda future: self._report(flight, future)
        )

    def _report(self, flight: Flight, future: Future) -> None:
        # The sender answers None for every failure, so an exception here is a bug: no answer.
        status_code = None if future.cancelled() or future.exception() else future.result()
        self._ended.put(Outcome(flight, status_code))
        self._woken.set()
