"""Which claimed deliveries go out next: at most `per_endpoint` at once to any one endpoint and
`concurrency` in all, the endpoints taking turns, and none once its claim's lease has run out. A
slow endpoint so holds at most `per_endpoint` threads, each for one deadline, while the others'
deliveries go on. A send that ends starts the next at once, and waits in `ended` to be recorded."""

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
    """Queues flights per endpoint and starts them as the limits allow, from any thread."""

    def __init__(self, send: Callable[[Attempt], int | None], *, concurrency: int, per_endpoint: int):
        self.send = send
        self.concurrency, self.per_endpoint = concurrency, per_endpoint
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")
        self._lock = threading.RLock()  # a send that ended already reports inside `_launch`
        self._waiting: dict[str, deque[Flight]] = {}  # by endpoint, in the order they take turns
        self._running: Counter[str] = Counter()
        self._ended: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._woken = threading.Event()

    @property
    def waiting(self) -> int:
        with self._lock:
            return sum(len(flights) for flights in self._waiting.values())

    @property
    def running(self) -> int:
        with self._lock:
            return self._running.total()

    def queued_for(self) -> set[str]:
        """The endpoints with flights still waiting: claiming more for them would only queue."""
        with self._lock:
            return set(self._waiting)

    def add(self, flights: Iterable[Flight]) -> None:
        """Queue flights, and start what may start."""
        with self._lock:
            for flight in flights:
                self._waiting.setdefault(flight.attempt.endpoint_id, deque()).append(flight)
            self._start()

    def start(self) -> None:
        """Start what may start now, and drop what may no longer."""
        with self._lock:
            self._start()

    def ended(self) -> list[Outcome]:
        """The sends that ended since the last call, to be recorded."""
        outcomes = []
        while True:
            try:
                outcomes.append(self._ended.get_nowait())
            except queue.Empty:
                return outcomes

    def wait(self, timeout: float) -> None:
        """Until a send ends, or `timeout` seconds."""
        self._woken.wait(timeout)
        self._woken.clear()

    def abandon(self, endpoint_id: str | None = None) -> None:
        """Forget the flights not started (to one endpoint, or to all): their leases run out, and
        they are claimed again if still pending."""
        with self._lock:
            if endpoint_id is None:
                self._waiting.clear()
            else:
                self._waiting.pop(endpoint_id, None)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self) -> None:
        """Under the lock: drop the flights whose lease ran out before they could start (they are
        claimed again), then start what the limits allow, one per endpoint in turn."""
        now = time.monotonic()
        started = True
        while started:
            started = False
            for endpoint_id, flights in list(self._waiting.items()):
                while flights and flights[0].lease_ends <= now:
                    flights.popleft()
                fits = self._running.total() < self.concurrency
                if flights and fits and self._running[endpoint_id] < self.per_endpoint:
                    self._launch(flights.popleft())
                    started = True
                if not flights:
                    self._waiting.pop(endpoint_id, None)

    def _launch(self, flight: Flight) -> None:
        self._running[flight.attempt.endpoint_id] += 1
        self._pool.submit(self.send, flight.attempt).add_done_callback(
            lambda future: self._report(flight, future)
        )

    def _report(self, flight: Flight, future: Future) -> None:
        # The sender answers None for every failure, so an exception here is a bug: no answer.
        status_code = None if future.cancelled() or future.exception() else future.result()
        self._ended.put(Outcome(flight, status_code))
        with self._lock:
            self._running[flight.attempt.endpoint_id] -= 1
            self._start()
        self._woken.set()
