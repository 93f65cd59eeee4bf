"""Lua scripts that also run inside pipelines, as one round trip with other commands."""

from pathlib import Path
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError


class Script:
    """A Lua script kept in a `.lua` file beside the code that runs it.

    In a pipeline it is sent as EVALSHA alone: redis-py's own way would first ask SCRIPT
    EXISTS, a round trip of its own. Should Redis have lost its scripts (a restart), `reply`
    runs it again by itself.
    """

    def __init__(self, redis: Redis, path: Path):
        self._script = redis.register_script(path.read_text())

    def __call__(self, keys: list[str], args: list[Any]) -> Any:
        return self._script(keys=keys, args=args)

    def queue(self, pipe: Pipeline, keys: list[str], args: list[Any]) -> None:
        pipe.evalsha(self._script.sha, len(keys), *keys, *args)

    def reply(self, result: Any, keys: list[str], args: list[Any]) -> Any:
        """What the queued script answered, given the pipeline's result for it (run with
        raise_on_error=False)."""
        if isinstance(result, NoScriptError):
            return self(keys, args)
        if isinstance(result, Exception):
            raise result
        return result
