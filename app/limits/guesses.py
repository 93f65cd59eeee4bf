"""Code guesses (README.md: *Lock-out*): each check of a typed code is a guess from its client's
network (RATE_LIMIT_VERIFY), and each wrong one a failure of its identity, counted per network
(MAX_FAILED_CODES_PER_NETWORK) and in all (MAX_FAILED_CODES_PER_DAY). Both are checked before a
code is, so that a refused guess is never compared. A network that has typed no wrong code today,
for anyone, cannot have spent an identity's failures: its guesses skip that look-up, and a right
code costs one round trip before its check."""

from collections.abc import Callable
from dataclasses import dataclass

from app.limits import DAY_MS, PREFIX, Limits, Plan, network


@dataclass(frozen=True)
class Guess:
    """A guess taken from a client's network, on one day (UTC)."""

    network: str
    day: int

    @property
    def failing_key(self) -> str:
        return f"{PREFIX}:failing:{self.network}:{self.day}"

    def failures_key(self, pseudonym: str) -> str:
        """The count of this network's wrong codes for one identity today, without the limits' prefix."""
        return f"failures:{pseudonym}:{self.network}:{self.day}"


def take(limits: Limits, client_ip: str | None, destination: Callable[[], list]) -> Guess | None:
    """Take a guess from `client_ip` (429 if its network's guesses are spent), learning in the same
    round trip whether the network typed a wrong code today; if it did, 429 too if it has spent its
    wrong codes for the identity `destination()` names (its pseudonym and masked text). None: the
    limits are off."""
    if not limits.policy.enabled or client_ip is None:
        return None
    client_network, now = network(client_ip), int(limits.clock() * 1000)
    plan = Plan("a code check", "", client_network)
    plan.per_client("guesses", limits.policy.guesses_per_ip, now)
    guess = Guess(client_network, now // DAY_MS)
    pipe = limits.redis.pipeline(transaction=False)
    limits.queue(pipe, plan)
    pipe.get(guess.failing_key)  # the network's wrong codes today, for anyone
    taken, failed_today = pipe.execute(raise_on_error=False)
    limits.settle(plan, taken)
    if isinstance(failed_today, Exception):
        raise failed_today
    if failed_today and int(failed_today):
        pseudonym, masked = destination()
        if pseudonym:
            failures = Plan("a code check for", masked or "", client_network)
            key, limit = guess.failures_key(pseudonym), limits.policy.failures_per_network
            failures.count("failures", key, limit, DAY_MS, take=False)
            limits.take(failures)
    return guess


def count_failure(limits: Limits, guess: Guess, pseudonym: str) -> None:
    """Count a wrong code, once, against its network's and its identity's day, in a round trip of
    its own (the check ran in its verification's slot). Once the identity's budget is spent, the
    network that failed it is refused for the rest of the day; a network that has not failed it
    is not, so that no crowd of attackers locks the customer out."""
    network_key = f"{PREFIX}:{guess.failures_key(pseudonym)}"
    pipe = limits.redis.pipeline(transaction=False)
    for key in (network_key, f"{PREFIX}:failures:{pseudonym}:{guess.day}", guess.failing_key):
        pipe.set(key, 0, px=DAY_MS, nx=True)
        pipe.incr(key)
    identity_failures = pipe.execute()[3]
    if identity_failures >= limits.policy.failures_per_day:
        limits.redis.set(network_key, limits.policy.failures_per_network, keepttl=True)
