"""A hard deadline for a whole HTTP attempt. urllib3's read timeout bounds each read, so an answer
trickled a byte at a time never runs out of it; past an attempt's deadline, one watchdog thread
shuts the sockets of the connections the attempt used, which ends any read blocked on them.

Connections made by `Pool` and `TlsPool` report to the deadline of the attempt running in their
thread (`attempt_deadline`), when they connect and when they send a request."""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection


@dataclass(eq=False)
class Deadline:
    """The end (time.monotonic()) of one attempt; `passed` once it came before the attempt was over."""

    ends: float
    passed: bool = False
    connections: list[HTTPConnection] = field(default_factory=list)


_current = threading.local()  # the deadline of the attempt running in this thread
_running: set[Deadline] = set()  # the deadlines of attempts not over yet, and not passed
_changed = threading.Condition()  # guards the deadlines of every thread; wakes the watchdog


@contextlib.contextmanager
def attempt_deadline(seconds: float) -> Iterator[Deadline]:
    """The deadline of an attempt run in this thread inside the block. Out of it, the attempt's
    connections (back in their pool) are watched no more."""
    deadline = _current.deadline = Deadline(time.monotonic() + seconds)
    with _changed:
        _running.add(deadline)
        if _watchdog.ident is None:
            _watchdog.start()
        if deadline.ends <= min(running.ends for running in _running):
            _changed.notify()  # it comes first: the watchdog's wait is too long
    try:
        yield deadline
    finally:
        with _changed:
            _running.discard(deadline)
        _current.deadline = None


def _watch(connection: HTTPConnection) -> None:
    deadline = getattr(_current, "deadline", None)
    with _changed:
        if deadline in _running:
            deadline.connections.append(connection)
        elif deadline is not None and deadline.passed:
            _cut(connection)


def _pass_deadlines() -> None:
    with _changed:
        while True:
            now = time.monotonic()
            for deadline in [deadline for deadline in _running if deadline.ends <= now]:
                _running.remove(deadline)
                deadline.passed = True
                for connection in deadline.connections:
                    _cut(connection)
            _changed.wait(min(deadline.ends for deadline in _running) - now if _running else None)


_watchdog = threading.Thread(target=_pass_deadlines, name="webhook-deadlines", daemon=True)


def _cut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is not None:  # None: not connected yet, or closed already
        with contextlib.suppress(OSError):
            # socket.socket's own shutdown, not SSLSocket's, which is not safe from another thread.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedConnection(HTTPConnection):
    def connect(self) -> None:
        _watch(self)
        super().connect()

    def request(self, *args, **kwargs) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedTlsConnection(_WatchedConnection, HTTPSConnection):
    pass


class Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class TlsPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedTlsConnection
