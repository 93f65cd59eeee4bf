"""The throughput scenarios, in rounds: `/healthz`, start (limits on, limits off, and through the
`http` SMS channel), verify."""

import argparse
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import redis

from bench.gateway import Messages, counting
from bench.inprocess import InProcess
from bench.load import Load, measure, median_run, start_registrations
from bench.processes import Server
from bench.settings import OUT, START_FIRST, VERIFY_FIRST
from tests.servers import Gateway

SCENARIOS = ("healthz", "start", "start-off", "start-http", "verify")

log = logging.getLogger("bench")


class Servers(NamedTuple):
    """Three gunicorns with the throughput settings, alike but for one setting each."""

    on: Server  # the limits on, SMS to the console channel: /healthz, start, verify
    off: Server  # RATE_LIMITS_ENABLED=false
    http: Server  # SMS_CHANNEL=http, to the bench's fast gateway


@dataclass
class Rounds:
    """Every run of the rounds, by scenario in the order run; what the fast gateway received;
    round trips and memory in-process, with the limits on and off."""

    runs: dict[str, list[Load]] = field(default_factory=lambda: {name: [] for name in SCENARIOS})
    http_messages: Messages = field(default_factory=Messages)
    in_on: InProcess | None = None
    in_off: InProcess | None = None

    def figure(self, name: str) -> Load:
        """A scenario's run at the median requests/s: its figures."""
        return median_run(self.runs[name])

    def share(self, name: str) -> float:
        """A scenario's median requests/s in % of `/healthz`'s."""
        return 100 * self.figure(name).rps / self.figure("healthz").rps

    def round_shares(self, name: str) -> list[float]:
        """The same, round by round."""
        return [
            100 * load.rps / floor.rps
            for load, floor in zip(self.runs[name], self.runs["healthz"], strict=True)
        ]

    @property
    def limits_cost(self) -> float:
        """What the limits take from start's requests/s, in % of it without them (medians)."""
        return 100 * (1 - self.figure("start").rps / self.figure("start-off").rps)

    @property
    def pair_costs(self) -> list[float]:
        """The same for each round's pair of runs."""
        return [
            100 * (1 - on.rps / off.rps)
            for on, off in zip(self.runs["start"], self.runs["start-off"], strict=True)
        ]

    def cpu_ms(self, name: str, whom: str | None = None) -> float:
        """CPU milliseconds per request over all of a scenario's runs, by `whom` (all if None)."""
        loads = self.runs[name]
        spent = sum(load.cpu_ms(whom) * load.requests for load in loads)
        return spent / sum(load.requests for load in loads)

    def busy(self, name: str) -> float:
        """CPUs the machine had busy, on average over a scenario's runs."""
        loads = self.runs[name]
        return sum(load.busy * load.seconds for load in loads) / sum(load.seconds for load in loads)

    def commands(self, name: str) -> dict[str, float]:
        """Redis commands per request over all of a scenario's runs, by command."""
        calls: Counter = Counter()
        for load in self.runs[name]:
            calls.update({command: per * load.requests for command, per in load.commands.items()})
        requests = sum(load.requests for load in self.runs[name])
        return {command: count / requests for command, count in sorted(calls.items())}

    @property
    def in_order(self) -> list[Load]:
        """Every measured run, in the order run."""
        return [load for loads in zip(*self.runs.values(), strict=True) for load in loads]

    @property
    def extra_trips(self) -> int:
        """Redis round trips per start, limits on − off."""
        return len(self.in_on.start_trips) - len(self.in_off.start_trips)

    @property
    def limits_as_configured(self) -> bool:
        """The limits' script ran once per start with them on, never with them off (another
        client's EVALSHA would show in INFO commandstats, hence the 0.05)."""
        return (
            self.commands("start").get("evalsha", 0) >= 0.99
            and self.commands("start-off").get("evalsha", 0) < 0.05
            and any("EVALSHA" in trip for trip in self.in_on.start_trips)
            and all("EVALSHA" not in trip for trip in self.in_off.start_trips)
        )

    @property
    def failed(self) -> bool:
        return (
            any(load.spoiled for load in self.in_order)
            or not self.limits_as_configured
            or not self.http_messages.consistent
        )


def measure_rounds(
    servers: Servers, client: redis.Redis, gateway: Gateway, options: argparse.Namespace
) -> Rounds:
    """`--rounds` rounds of wrk, each run with its own warm-up, phone numbers and registrations."""
    rounds = Rounds()
    first = {"start": START_FIRST, "verify": VERIFY_FIRST}  # the next number of each phone range

    def run(name: str, number: int, server: Server, script_args: Callable[[int], list[str]]) -> Load:
        load = measure(server, client, f"{name}-{number}", script_args, options)
        rounds.runs[name].append(load)
        share = 100 * load.rps / rounds.runs["healthz"][-1].rps
        log.info("%s: %.0f requests/s (%.1f %% of /healthz), p50 %.1f ms", name, load.rps, share, load.p50_ms)
        return load

    def start(name: str, number: int, server: Server) -> Load:
        begin = first["start"]
        load = run(name, number, server, lambda used: ["start", str(begin + used)])
        first["start"] += sum(attempt.used for attempt in load.runs)
        return load

    for number in range(1, options.rounds + 1):
        log.info("round %d of %d", number, options.rounds)
        run("healthz", number, servers.on, lambda used: ["healthz"])
        start("start", number, servers.on)
        start("start-off", number, servers.off)
        with counting(gateway, client) as messages:
            messages.answered, messages.abandoned = start("start-http", number, servers.http).starts
        rounds.http_messages += messages
        pairs = start_registrations(servers.http, gateway, first["verify"], options.registrations)
        first["verify"] += options.registrations
        pending = OUT / f"verify-{number}.txt"
        pending.write_text("".join(f"{registration_id} {code}\n" for registration_id, code in pairs))
        run("verify", number, servers.on, lambda used, pending=pending: ["verify", str(pending), str(used)])
    return rounds
