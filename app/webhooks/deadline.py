"""A hard deadline for a whole HTTP attempt. urllib3's read timeout bounds each read, so an answer
trickled a byte at a time never runs out of it; past an attempt's deadline, one watchdog thread
shuts the sockets of the connections the attempt used, which ends any read blocked on them.

Connections made by `Pool` and `TlsPool` report to the deadline of the attempt running in their
thread (`Deadlines.running`), when they connect and when they send a request."""

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection


class Deadline:
    """The end of one attempt; `passed` once it came before the attempt was over."""

    def __init__(self, seconds: float):
        self.ends = time.monotonic() + seconds
        self.passed = self.over = False
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()

    @property
    def remaining(self) -> float:
        return max(self.ends - time.monotonic(), 0.0)

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            if self.passed:
                _cut(connection)
            elif not self.over:
                self._connections.append(connection)

    def end(self) -> None:
        """The attempt is over: its connections, back in their pool, are watched no more."""
        with self._lock:
            self.over = True
            self._connections.clear()

    def pass_(self) -> None:
        with self._lock:
            if not self.over:
                self.passed = True
                for connection in self._connections:
                    _cut(connection)


def _cut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:  # None: not connected yet, or closed already
        with contextlib.suppress(OSError):
            # socket.socket's own shutdown, not SSLSocket's, which is not safe from another thread.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Deadlines:
    """Deadlines of attempts, each thread running one at a time, passed by one watchdog thread."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._watchdog = _Watchdog()

    @contextlib.contextmanager
    def running(self, seconds: float) -> Iterator[Deadline]:
        """The deadline of an attempt run in this thread inside the block."""
        deadline = self._local.current = Deadline(seconds)
        self._watchdog.add(deadline)
        try:
            yield deadline
        finally:
            deadline.end()
            self._local.current = None

    def watch(self, connection: HTTPConnection) -> None:
        """Have the current thread's attempt, if any, watch `connection`."""
        current = getattr(self._local, "current", None)
        if current is not None:
            current.watch(connection)


class _Watchdog:
    """The thread that passes deadlines, started with the first one."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._changed:
            heapq.heappush(self._due, (deadline.ends, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="webhook-deadlines", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                while self._due and (self._due[0][0] <= now or self._due[0][2].over):
                    heapq.heappop(self._due)[2].pass_()
                self._changed.wait(self._due[0][0] - now if self._due else None)


class WatchedConnection(HTTPConnection):
    """A connection that reports to the deadline of the attempt using it."""

    def __init__(self, *args, deadlines: Deadlines, **kwargs):
        super().__init__(*args, **kwargs)
        self.deadlines = deadlines

    def connect(self) -> None:
        self.deadlines.watch(self)
        super().connect()

    def request(self, *args, **kwargs) -> None:
        self.deadlines.watch(self)
        super().request(*args, **kwargs)


class WatchedTlsConnection(WatchedConnection, HTTPSConnection):
    pass


class Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = WatchedConnection


class TlsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = WatchedTlsConnection
