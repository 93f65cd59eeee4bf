"""Lua scripts that also run inside pipelines, as one round trip with other commands."""

from pathlib import Path
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.commands.core import Script as RedisScript
from redis.exceptions import NoScriptError


class Script(RedisScript):
    """A Lua script kept in a `.lua` file beside the code that runs it. In a pipeline it is sent
    as EVALSHA alone, where redis-py would first ask SCRIPT EXISTS in a round trip of its own."""

    def __init__(self, redis: Redis, path: Path):
        super().__init__(redis, path.read_text())

    def queue(self, pipe: Pipeline, keys: list[str], args: list[Any]) -> None:
        pipe.evalsha(self.sha, len(keys), *keys, *args)

    def reply(self, result: Any, keys: list[str], args: list[Any]) -> Any:
        """The queued script's answer, from its pipeline's result (run with raise_on_error=False);
        should Redis have lost its scripts (a restart), the script runs again by itself."""
        if isinstance(result, NoScriptError):
            return self(keys, args)
        if isinstance(result, Exception):
            raise result
        return result


def pairs(reply: list) -> dict:
    """A script's reply of name, value, … pairs as a dict."""
    return dict(zip(reply[::2], reply[1::2], strict=True))
