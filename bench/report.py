"""RESULTS.md: the targets with their verdicts, then every figure of the run, then its notes.
How each figure is measured is bench/README.md's "Method"."""

import datetime
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.gateway import Messages
from bench.load import Load
from bench.settings import CONNECTIONS, DESTINATION_KEY, LIMIT_KEYS, REGISTRATION_KEY
from bench.slow_gateway import BURST_LATENCIES, SUSTAINED_LATENCY, SlowGateway
from bench.throughput import SCENARIOS, Rounds
from bench.webhooks import SUCCEEDED, WebhookRun, percentile

MIN_SHARE = {"start": 37.0, "verify": 21.0}  # % of /healthz's requests/s
MAX_WORKERS_CPU_MS = {"start": 1.0, "verify": 1.4}  # per request
MAX_HTTP_EXTRA_CPU_MS = 0.3  # the workers' CPU per start, `http` channel − console
# verify: the guess (issue #13, with whether its network failed today), the check, the finish
MAX_ROUND_TRIPS = {"start": 1, "verify": 3}
MAX_PENDING_BYTES = 688
MAX_LIMITS_COST = 15.0  # % of start's requests/s without the limits
MAX_LIMITS_EXTRA_TRIPS = 1
MAX_BURST_SECONDS = 2.0  # 32 concurrent starts with the gateway at 1 s
MIN_DELIVERIES_PER_SECOND = 200  # one webhook worker
MAX_DELIVERY_P50 = 1.0  # s from commit to delivery
# CPUs busy outside the bench's processes over a wrk run, above which it was not quiet: a quiet
# run leaves about 0.01 (the kernel's own work); a test suite beside it, 0.3 and more.
MAX_OTHER_CPUS = 0.1
FOREIGN = ("flushdb", "flushall", "keys", "scan")  # Redis commands no request of the bench sends
LOG_PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback|WORKER TIMEOUT")

COLUMNS = {
    "healthz": "`GET /healthz`",
    "start": "start, limits on",
    "start-off": "start, limits off",
    "start-http": "start, `http` channel",
    "verify": "verify",
}
CPU_LABELS = {
    "service": "gunicorn's workers",
    "redis": "Redis",
    "postgres": "PostgreSQL",
    "wrk": "wrk",
    "bench": "the bench's process (the SMS gateway, for `http`)",
    "other": "the rest (other processes, kernel)",
}


@dataclass(frozen=True)
class Target:
    what: str
    measured: str
    required: str
    ok: bool

    @property
    def cells(self) -> tuple[str, ...]:
        return self.what, self.measured, self.required, "PASS" if self.ok else "MISS"


@dataclass(frozen=True)
class RunInfo:
    started_at: datetime.datetime
    load_average: float
    machine: str
    software: str
    code: str


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def trips_text(trips: list[list[str]]) -> str:
    return " + ".join("[" + " ".join(names) + "]" for names in trips) or "none"


def answers_text(loads: list[Load]) -> str:
    failed = sum(load.failed for load in loads)
    return f"{sum(load.requests for load in loads):,}, {failed} failed" + (
        " (ran out of registrations)" if any(load.ran_out for load in loads) else ""
    )


def messages_text(messages: Messages) -> str:
    problems = ", ".join(f"{count} {reason}" for reason, count in messages.problems.items()) or "0"
    return (
        f"{messages.count:,} messages / {messages.made:,} registrations / {messages.answered:,} 202 answers"
        f" (+ {messages.abandoned} abandoned); malformed {problems}, repeated {messages.repeated}"
    )


def seconds_text(seconds: float) -> str:
    return f"{seconds:g} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def statuses_text(statuses: Counter) -> str:
    return ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items(), key=str)) or "none"


def at_most(what: str, value: float, limit: float, unit: str, spec: str = ".1f") -> Target:
    return Target(what, f"{value:{spec}}{unit}", f"≤ {limit:g}{unit}", value <= limit)


def at_least(what: str, value: float, limit: float, unit: str, spec: str = ".1f") -> Target:
    return Target(what, f"{value:{spec}}{unit}", f"≥ {limit:g}{unit}", value >= limit)


def targets(rounds: Rounds, slow: SlowGateway, hooks: WebhookRun) -> list[Target]:
    """Issues #2 to #5's targets, and the checks that every answer, message and event counts."""
    n = len(rounds.runs["healthz"])
    http, console = rounds.cpu_ms("start-http", "service"), rounds.cpu_ms("start", "service")
    evalsha = [f"{rounds.commands(name).get('evalsha', 0):.2f}" for name in ("start", "start-off")]
    found = [
        *(
            at_least(
                f"{name} throughput, % of `/healthz` (medians of {n} runs)", rounds.share(name), limit, " %"
            )
            for name, limit in MIN_SHARE.items()
        ),
        *(
            at_most(
                f"CPU per {name}, gunicorn's workers (all runs)",
                rounds.cpu_ms(name, "service"),
                limit,
                " ms",
                ".3f",
            )
            for name, limit in MAX_WORKERS_CPU_MS.items()
        ),
        Target(
            "CPU per start through the `http` channel, gunicorn's workers, above the console channel's",
            f"{http - console:+.3f} ms ({http:.3f} − {console:.3f})",
            f"≤ +{MAX_HTTP_EXTRA_CPU_MS:g} ms",
            http - console <= MAX_HTTP_EXTRA_CPU_MS,
        ),
        *(
            at_most(f"Redis round trips per {name}", len(trips), MAX_ROUND_TRIPS[name], "", "d")
            for name, trips in (("start", rounds.in_on.start_trips), ("verify", rounds.in_on.verify_trips))
        ),
        at_most(
            "Redis memory per pending registration", rounds.in_on.pending_bytes, MAX_PENDING_BYTES, " B", "d"
        ),
        at_most(
            "the limits' cost: (off − on) / off of start's median req/s",
            rounds.limits_cost,
            MAX_LIMITS_COST,
            " %",
        ),
        at_most(
            "the limits' extra Redis round trips per start",
            rounds.extra_trips,
            MAX_LIMITS_EXTRA_TRIPS,
            "",
            "d",
        ),
        Target(
            "the limits' script (EVALSHA) per start, on / off",
            " / ".join(evalsha),
            "1 / 0",
            rounds.limits_as_configured,
        ),
        *(
            Target(
                f"{COLUMNS[name]}: every answer 2xx, all {n} runs",
                answers_text(loads),
                "0 failed",
                not any(load.spoiled for load in loads),
            )
            for name, loads in rounds.runs.items()
        ),
        Target(
            "start through `http`: a message per registration and per 202 answer, none malformed or repeated",
            messages_text(rounds.http_messages),
            "equal; 0, 0",
            rounds.http_messages.consistent,
        ),
        at_most(
            f"{CONNECTIONS} concurrent starts, gateway {seconds_text(BURST_LATENCIES[0])}: "
            "until all answered, the slowest round",
            slow.slowest_burst.seconds,
            MAX_BURST_SECONDS,
            " s",
            ".2f",
        ),
        Target(
            "slow gateway, bursts: every start answered 202, a message for each",
            statuses_text(sum((burst.statuses for burst in slow.all_bursts), Counter())),
            f"all 202; {CONNECTIONS} messages a burst",
            all(burst.ok for burst in slow.all_bursts),
        ),
        Target(
            "slow gateway, wrk: every answer 2xx, a message per registration and per 202 answer",
            f"{answers_text(slow.sustained.runs)}; {messages_text(slow.sustained_messages)}",
            "0 failed; equal; 0, 0",
            slow.sustained_ok,
        ),
        at_least(
            "webhooks: deliveries per second, one worker",
            hooks.per_second,
            MIN_DELIVERIES_PER_SECOND,
            "/s",
            ",.0f",
        ),
        Target(
            "webhooks: commit to delivery, p50",
            f"{1000 * percentile(hooks.latencies, 0.5):.0f} ms",
            f"< {MAX_DELIVERY_P50:g} s",
            percentile(hooks.latencies, 0.5) < MAX_DELIVERY_P50,
        ),
        Target(
            "webhooks: every event delivered once, verified, at the first attempt",
            f"{len(hooks.arrivals):,} requests for {hooks.expected:,} events; "
            f"{hooks.unverified} not verified, {hooks.repeated} repeated, {hooks.unexpected} for no event; "
            f"delivery log: {log_text(hooks)}",
            f"equal; 0, 0, 0; all {SUCCEEDED} after 1",
            hooks.complete,
        ),
        Target(
            "webhooks: the worker stops on SIGTERM",
            f"exit status {hooks.returncode} after {hooks.stop_seconds:.2f} s",
            "0",
            hooks.returncode == 0,
        ),
    ]
    return found


def log_text(hooks: WebhookRun) -> str:
    counts = sorted(hooks.deliveries.items())
    return ", ".join(f"{count:,} {status} after {tries}" for (status, tries), count in counts) or "empty"


def throughput_table(rounds: Rounds) -> list[str]:
    n = len(rounds.runs["healthz"])

    def row(label: str, cell) -> tuple[str, ...]:
        return (label, *(cell(name) for name in SCENARIOS))

    def median(name: str) -> str:
        share = f" = {rounds.share(name):.1f} %" if name != "healthz" else ""
        return f"{rounds.figure(name).rps:,.0f} req/s{share}"

    def each(name: str, figure) -> str:
        return "; ".join(figure(load) for load in rounds.runs[name])

    rows = [
        row(f"Throughput, median of {n} runs (% of `/healthz`)", median),
        row("Each run, in order: req/s", lambda name: each(name, lambda load: f"{load.rps:,.0f}")),
        row(
            "Each round: % of its `/healthz`",
            lambda name: (
                ", ".join(f"{share:.1f}" for share in rounds.round_shares(name)) if name != "healthz" else ""
            ),
        ),
        row(
            "Latency p50 / p99, the median run",
            lambda name: f"{rounds.figure(name).p50_ms:.1f} / {rounds.figure(name).p99_ms:.1f} ms",
        ),
        row(f"Answers, all {n} runs", lambda name: answers_text(rounds.runs[name])),
        row("Connections per worker, each run", lambda name: each(name, lambda load: load.split_text)),
        *(
            row(
                f"CPU per request, {label} (all runs)",
                lambda name, whom=whom: f"{rounds.cpu_ms(name, whom):.3f} ms",
            )
            for whom, label in CPU_LABELS.items()
        ),
        row("CPU per request, the whole machine (all runs)", lambda name: f"{rounds.cpu_ms(name):.3f} ms"),
        row(
            "CPU per request, gunicorn's workers, each run",
            lambda name: each(name, lambda load: f"{load.cpu_ms('service'):.3f}") + " ms",
        ),
        row("CPUs busy (all runs)", lambda name: f"{rounds.busy(name):.2f} of {os.cpu_count()}"),
        row(
            "Redis commands per request (all runs)",
            lambda name: f"{sum(rounds.commands(name).values()):.2f}",
        ),
    ]
    return table(("Figure", *COLUMNS.values()), rows)


def limits_table(rounds: Rounds) -> list[str]:
    on, off = rounds.in_on, rounds.in_off
    extra = {whom: rounds.cpu_ms("start", whom) - rounds.cpu_ms("start-off", whom) for whom in CPU_LABELS}
    machine_on, machine_off = rounds.cpu_ms("start"), rounds.cpu_ms("start-off")

    def kept(measured) -> str:
        prefix = LIMIT_KEYS.split(":")[0]
        return (
            ", ".join(f"`{prefix}:{kind}:…` {size} B" for kind, size in measured.limit_bytes.items())
            or "none"
        )

    return table(
        ("Figure", "Measured"),
        [
            ("Cost: (off − on) / off of the median req/s", f"{rounds.limits_cost:.1f} %"),
            ("Cost, each round's pair", ", ".join(f"{cost:.1f}" for cost in rounds.pair_costs) + " %"),
            (
                "Where it goes: CPU per start, on − off (all runs)",
                ", ".join(f"{CPU_LABELS[whom]} {1000 * ms:+.0f} µs" for whom, ms in extra.items())
                + f"; the whole machine {1000 * (machine_on - machine_off):+.0f} µs "
                f"({100 * (machine_on / machine_off - 1):+.1f} %)",
            ),
            (
                "Redis round trips per start (in-process), on / off",
                f"{len(on.start_trips)} {trips_text(on.start_trips)} / {len(off.start_trips)} "
                f"{trips_text(off.start_trips)}",
            ),
            (
                "Redis memory the limits keep per destination (in-process), on / off",
                f"{kept(on)} / {kept(off)}",
            ),
        ],
    )


def redis_tables(rounds: Rounds) -> list[str]:
    measured = rounds.in_on
    names = ("start", "start-off", "start-http", "verify")
    columns = [rounds.commands(name) for name in names]
    registration_encoding, destination_encoding = measured.encodings
    figures = table(
        ("Figure (in-process, limits on)", "Measured"),
        [
            (
                "Round trips per start, a connection in use",
                f"{len(measured.start_trips)}: {trips_text(measured.start_trips)}",
            ),
            ("Round trips per verify", f"{len(measured.verify_trips)}: {trips_text(measured.verify_trips)}"),
            (
                "Round trips on a new connection: the first start / verify",
                f"{len(measured.cold_start_trips)}: {trips_text(measured.cold_start_trips)} / "
                f"{len(measured.cold_verify_trips)}",
            ),
            (
                f"Memory: `{REGISTRATION_KEY % 'id'}` hash ({registration_encoding})",
                f"{measured.registration_bytes} B",
            ),
            (
                f"Memory: `{DESTINATION_KEY % '…'}` set ({destination_encoding})",
                f"{measured.destination_bytes} B",
            ),
            ("Memory per pending registration", f"{measured.pending_bytes} B"),
        ],
    )
    commands = table(
        ("Redis command, per request (INFO commandstats, all runs)", *(COLUMNS[name] for name in names)),
        [
            (command.upper(), *(f"{column.get(command, 0):.2f}" for column in columns))
            for command in sorted(set().union(*columns))
        ]
        + [("**total**", *(f"**{sum(column.values()):.2f}**" for column in columns))],
    )
    return [*figures, "", *commands]


def slow_gateway_table(slow: SlowGateway) -> list[str]:
    rows = []
    for latency, bursts in slow.bursts.items():
        label = f"Burst of {CONNECTIONS} starts, gateway {seconds_text(latency)}"
        rows += [
            (
                f"{label}: until all answered, each round",
                ", ".join(f"{burst.seconds:.2f}" for burst in bursts)
                + f" s (first answer after {min(burst.fastest for burst in bursts):.2f} s)",
            ),
            (
                f"{label}: connections per worker, each round",
                ", ".join(" / ".join(map(str, b.split)) for b in bursts),
            ),
        ]
    warmup, load = slow.warmup, slow.sustained
    label = f"Start, wrk -c{CONNECTIONS}, gateway {seconds_text(SUSTAINED_LATENCY)}"
    rows += [
        (
            f"Warm-up burst, gateway {seconds_text(warmup.latency)}",
            f"{warmup.seconds:.2f} s, {statuses_text(warmup.statuses)}, connections per worker "
            + " / ".join(map(str, warmup.split)),
        ),
        (
            f"{label}: throughput",
            f"{load.rps:,.0f} req/s = {100 * load.rps / slow.ceiling:.1f} % of the {slow.ceiling:.0f} req/s "
            f"ceiling ({CONNECTIONS} / {SUSTAINED_LATENCY:g} s)",
        ),
        (f"{label}: latency p50 / p99", f"{load.p50_ms:.1f} / {load.p99_ms:.1f} ms"),
        (f"{label}: connections per worker", load.split_text),
        (
            "Every message: malformed / repeated",
            f"{sum(slow.messages.problems.values())} / {slow.messages.repeated}",
        ),
    ]
    return table(("Figure", "Measured"), rows)


def webhook_table(hooks: WebhookRun) -> list[str]:
    first = min(delivery.at for delivery in hooks.drained)
    cpu = hooks.cpu
    return table(
        ("Figure", "Measured"),
        [
            (
                "Throughput: deliveries per second",
                f"{hooks.per_second:,.0f}/s ({len(hooks.drained):,} in {hooks.span:.2f} s)",
            ),
            (
                "Throughput: worker start to first / last delivery",
                f"{first - hooks.worker_started:.2f} / {first + hooks.span - hooks.worker_started:.2f} s",
            ),
            (
                "Throughput: CPUs busy from the first delivery to the last",
                f"worker {cpu['worker']:.2f}, receiver (the bench's process) {cpu['bench']:.2f}, "
                f"PostgreSQL {cpu['postgres']:.2f}, the rest {cpu['other']:.2f}; the whole machine "
                f"{sum(cpu.values()):.2f} of {os.cpu_count()}",
            ),
            (
                "Throughput: TCP connections the worker opened to the receiver",
                f"{hooks.drain_connections:,} for {len(hooks.drained):,} requests",
            ),
            (
                f"Throughput: writing the {hooks.events:,} events first, one transaction each",
                f"{hooks.write_seconds:.1f} s ({1000 * hooks.write_seconds / hooks.events:.2f} ms per event)",
            ),
            (
                f"Commit to delivery, {hooks.latency_events} events at {hooks.latency_rate:g}/s: p50 / p99",
                f"{1000 * percentile(hooks.latencies, 0.5):.0f} / "
                f"{1000 * percentile(hooks.latencies, 0.99):.0f} ms "
                f"(min {1000 * min(hooks.latencies, default=math.nan):.0f}, "
                f"max {1000 * max(hooks.latencies, default=math.nan):.0f} ms)",
            ),
        ],
    )


def notes(rounds: Rounds, slow: SlowGateway, hooks: WebhookRun, log_dir: Path) -> list[str]:
    loads = [*rounds.in_order, slow.sustained]
    lines = [
        f"- Webhooks: the {hooks.backlog:,} events the earlier scenarios wrote (an onRegistered per "
        "verify) were deleted before the endpoint was made.",
        f"- Webhooks, commit to delivery: the {hooks.latency_events} events took "
        f"{hooks.latency_written_in:.2f} s to write "
        f"(planned {hooks.latency_events / hooks.latency_rate:.2f} s).",
    ]
    for load in loads:
        lines += [
            f"- Discarded: {run.name}, connections per worker {run.split_text}: {run.rps:,.0f} req/s"
            for run in load.discarded
        ]
        if load.uneven:
            lines.append(
                f"- **{load.name} split unevenly ({load.split_text}) in every attempt**: it understates."
            )
        foreign = {name: round(load.commands.get(name, 0) * load.requests) for name in FOREIGN}
        if any(foreign.values()):
            lines.append(
                f"- **Another client used Redis during {load.name}**: "
                + ", ".join(f"{count} × {name.upper()}" for name, count in foreign.items() if count)
                + ". The machine was not quiet."
            )
    busy = [load for load in loads if load.cpu["other"] / load.seconds > MAX_OTHER_CPUS]
    if busy:
        lines.append(
            "- **The machine was busy beside the bench** (CPUs used by other processes and the kernel) "
            "during "
            + ", ".join(f"{load.name} ({load.cpu['other'] / load.seconds:.2f})" for load in busy)
            + f": above {MAX_OTHER_CPUS:g}, their figures understate."
        )
    for path in sorted(log_dir.glob("*.log")):
        found = [line for line in path.read_text(errors="replace").splitlines() if LOG_PROBLEM.search(line)]
        lines.append(f"- bench/out/{path.name}: {len(found)} warning or error lines.")
        lines += [f"  - `{line[:200]}`" for line in found[:5]]
    return lines


def report(
    info: RunInfo, rounds: Rounds, slow: SlowGateway, hooks: WebhookRun, verdicts: list[Target], log_dir: Path
) -> str:
    return "\n".join(
        [
            "# Registrar benchmark",
            "",
            "Command: `make bench`",
            "",
            f"Date: {info.started_at:%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {info.machine}; {info.software}; load average {info.load_average:.2f} (1 min) "
            "when the run began",
            "",
            f"Code: {info.code}",
            "",
            "How each figure is measured: bench/README.md, Method.",
            "",
            "## Targets",
            "",
            *table(("Target", "Measured", "Required", "Result"), [target.cells for target in verdicts]),
            "",
            f"## Throughput, in {len(rounds.runs['healthz'])} rounds",
            "",
            *throughput_table(rounds),
            "",
            "## The limits: start with them on and off",
            "",
            *limits_table(rounds),
            "",
            "## Redis",
            "",
            *redis_tables(rounds),
            "",
            f"## Start with a slow SMS gateway ({seconds_text(BURST_LATENCIES[0])} and "
            f"{seconds_text(BURST_LATENCIES[1])} per message)",
            "",
            *slow_gateway_table(slow),
            "",
            "## Webhook delivery, one worker",
            "",
            *webhook_table(hooks),
            "",
            "## Notes",
            "",
            *notes(rounds, slow, hooks, log_dir),
            "",
        ]
    )
