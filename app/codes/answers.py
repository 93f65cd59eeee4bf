"""The contract's errors for what a verification's state and the limits say."""

from app import errors
from app.codes.values import Challenge, Outcome, Purpose, Status
from app.limits import COOLDOWN, Refused

NOT_A_CODE = "Enter every digit of the code we sent, and nothing else."


def closed(purpose: Purpose, outcome: Outcome) -> errors.RegistrarError:
    """The error for a verification that no longer takes codes, or is not there."""
    match outcome:
        case Outcome.LOCKED:
            return errors.TooManyAttempts(attempts_left=0)
        case Outcome.ALREADY_REGISTERED:
            return errors.AlreadyRegistered()
        case Outcome.COMPLETED | Outcome.CLAIMED:
            return errors.AlreadyCompleted(purpose.completed)
    return purpose.not_found()


def not_a_code(challenge: Challenge | None, purpose: Purpose) -> errors.RegistrarError:
    """The error for something typed that is no code: the verification's own state first
    (unknown, locked, finished, expired), else a field error that costs nothing."""
    if challenge is None:
        return purpose.not_found()
    if challenge.status != Status.CODE_SENT:
        return closed(purpose, Outcome(challenge.status))
    if challenge.expires_in == 0:
        return errors.CodeExpired(attempts_left=challenge.attempts_left)
    return errors.ValidationFailed(errors={"code": [NOT_A_CODE]})


def refused(refusal: Refused, *, resending: bool) -> errors.RegistrarError:
    """The 429 for a spent limit: a resend inside a destination's cooldown is simply too
    soon; anything else is rate_limited."""
    error = errors.ResendTooSoon if resending and refusal.limit == COOLDOWN else errors.RateLimited
    return errors.with_retry_after(error, refusal.retry_after)
