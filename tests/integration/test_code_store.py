"""The Lua scripts behind every code, run through VerificationStore against real Redis."""

import time
from dataclasses import replace

import pytest

from app.codes import Claim, Failure, FailureReason, Outcome, Status, generate_code
from tests.integration.conftest import PAYLOAD

FINGERPRINT = "0123456789abcdef0123456789abcdef"
OTHER_FINGERPRINT = "fedcba9876543210fedcba9876543210"
# What a verification may still hold once it is closed: nothing that names or reaches anyone.
CLOSED_FIELDS = {
    "claim",  # the token that finished it: a retried finish recognises itself
    "fp",
    "purpose",
    "status",
    "channel",
    "dest",
    "masked",
    "locale",
    "code_exp",
    "resend_at",
    "attempts",
    "resends",
    "refused",
}


def payload_fields(verification: dict[str, str]) -> dict[str, str]:
    """The `p:` fields of a verification's hash: its payload as Redis keeps it."""
    return {name: value for name, value in verification.items() if name.startswith("p:")}


@pytest.fixture
def check(hasher):
    """Check `code` as its customer would type it."""

    def check(store, started, code, purpose=None, fingerprint=""):
        return store.check(started.id, purpose or started.purpose, hasher.code(started.id, code), fingerprint)

    return check


@pytest.fixture
def resend(hasher):
    """Ask for a new code, returning the store's answer and the code that would be sent."""

    def resend(store, started, code=None, purpose=None):
        code = code or generate_code(6)
        return store.resend(started.id, purpose or started.purpose, hasher.code(started.id, code)), code

    return resend


class TestTheRightCode:
    def test_claims_the_verification_and_hands_back_its_payload(self, store, start, check, redis_client):
        started = start(store)

        result = check(store, started, started.code)

        assert result.outcome == Outcome.OK
        assert result.pseudonym == started.pseudonym
        assert result.attempts_left == 5
        assert result.claim == Claim(id=started.id, payload=PAYLOAD, token=result.claim.token)
        assert len(result.claim.token) >= 16
        assert redis_client.hget(started.key, "status") == "claimed"

    def test_the_payload_is_kept_field_by_field_and_none_values_are_neither_kept_nor_handed_back(
        self, store, start, check, redis_client
    ):
        started = start(store, payload={**PAYLOAD, "last_name": None, "email": None})

        kept = payload_fields(redis_client.hgetall(started.key))
        claim = check(store, started, started.code).claim

        expected = {name: value for name, value in PAYLOAD.items() if name not in ("last_name", "email")}
        assert kept == {f"p:{name}": value for name, value in expected.items()}
        assert claim.payload == expected

    def test_an_empty_payload_comes_back_empty(self, store, start, check):
        started = start(store, payload={})
        assert check(store, started, started.code).claim.payload == {}

    def test_each_claim_gets_a_token_of_its_own(self, store, start, check):
        started = start(store)
        first = check(store, started, started.code).claim
        store.release(first)

        second = check(store, started, started.code).claim

        assert second.token != first.token
        assert replace(second, token=first.token) == first

    def test_a_second_check_while_the_claim_holds_is_told_it_is_taken(self, store, start, check):
        started = start(store)
        check(store, started, started.code)

        again = check(store, started, started.code)

        assert (again.outcome, again.claim) == (Outcome.CLAIMED, None)
        assert check(store, started, "000000").outcome == Outcome.CLAIMED

    def test_a_wrong_code_during_a_claim_costs_nothing(self, store, start, check, redis_client):
        started = start(store)
        check(store, started, started.code)
        check(store, started, "000000")
        assert redis_client.hget(started.key, "attempts") == "5"

    def test_works_again_after_its_claim_is_released(self, store, start, check, redis_client):
        started = start(store)
        claimed = check(store, started, started.code)

        store.release(claimed.claim)

        assert redis_client.hget(started.key, "status") == "code_sent"
        assert check(store, started, started.code).outcome == Outcome.OK

    def test_a_release_with_another_claim_token_does_nothing(self, store, start, check, redis_client):
        started = start(store)
        claimed = check(store, started, started.code)

        store.release(replace(claimed.claim, token="not-the-claim-token"))

        assert redis_client.hget(started.key, "status") == "claimed"
        assert check(store, started, started.code).outcome == Outcome.CLAIMED


class TestWrongCodes:
    def test_each_wrong_code_costs_one_attempt(self, store, start, check, redis_client):
        started = start(store)

        first = check(store, started, "000000")
        second = check(store, started, "111111")

        assert (first.outcome, first.attempts_left, first.claim) == (Outcome.WRONG, 4, None)
        assert (second.outcome, second.attempts_left, second.claim) == (Outcome.WRONG, 3, None)
        assert first.pseudonym == started.pseudonym
        assert redis_client.hget(started.key, "attempts") == "3"
        assert check(store, started, started.code).outcome == Outcome.OK

    def test_the_last_attempt_locks_the_verification_and_drops_its_codes_payload_and_address(
        self, make_store, start, check, resend, redis_client
    ):
        store = make_store(max_attempts=3)
        started = start(store, fingerprint=FINGERPRINT)
        resend(store, started)  # an earlier code is kept aside as prev_hash, prev_exp, prev_resend_at
        before = redis_client.hgetall(started.key)
        assert payload_fields(before)
        assert {"prev_hash", "prev_exp", "prev_resend_at", "fp"} <= before.keys()

        outcomes = [check(store, started, "000000").outcome for _ in range(3)]

        assert outcomes == [Outcome.WRONG, Outcome.WRONG, Outcome.LOCKED_NOW]
        verification = redis_client.hgetall(started.key)
        assert verification["status"] == "locked"
        for gone in ("code_hash", "prev_hash", "prev_exp", "prev_resend_at", "to"):
            assert gone not in verification
        assert verification["fp"] == FINGERPRINT, "kept, so that a late finalisation learns it is locked"
        assert payload_fields(verification) == {}
        assert verification.keys() <= CLOSED_FIELDS
        assert verification["dest"] == started.pseudonym

    def test_a_locked_verification_refuses_even_the_right_code_and_every_resend(
        self, make_store, start, check, resend
    ):
        store = make_store(max_attempts=1)
        started = start(store)
        check(store, started, "000000")

        assert check(store, started, started.code).outcome == Outcome.LOCKED
        assert resend(store, started)[0].outcome == Outcome.LOCKED
        assert store.get(started.id, "register").status == "locked"


class TestExpiredCodes:
    def test_an_expired_code_answers_expired_whatever_was_typed_and_costs_nothing(
        self, make_store, start, check, redis_client
    ):
        store = make_store(ttl=1, lifetime=60)
        started = start(store)
        time.sleep(1.1)

        right = check(store, started, started.code)
        wrong = check(store, started, "000000")

        assert right.outcome == wrong.outcome == Outcome.EXPIRED
        assert right.attempts_left == wrong.attempts_left == 5
        assert redis_client.hget(started.key, "attempts") == "5"
        assert redis_client.hget(started.key, "status") == "code_sent"

    def test_a_new_code_after_expiry_works(self, make_store, start, check, resend):
        store = make_store(ttl=1, lifetime=60)
        started = start(store)
        time.sleep(1.1)

        answer, code = resend(store, started)

        assert answer.outcome == Outcome.OK
        assert check(store, started, code).outcome == Outcome.OK


class TestPurposes:
    @pytest.mark.parametrize(("started_for", "checked_for"), [("register", "login"), ("login", "register")])
    def test_a_code_of_one_purpose_never_completes_the_other_and_costs_nothing(
        self, store, start, check, resend, redis_client, started_for, checked_for
    ):
        started = start(store, purpose=started_for)

        right = check(store, started, started.code, purpose=checked_for)
        wrong = check(store, started, "000000", purpose=checked_for)
        resent, _ = resend(store, started, purpose=checked_for)

        assert right.outcome == wrong.outcome == resent.outcome == Outcome.NOT_FOUND
        assert right.claim is None
        assert store.get(started.id, checked_for) is None
        assert store.newest_pending(started.pseudonym, checked_for) is None
        verification = redis_client.hgetall(started.key)
        assert verification["status"] == "code_sent"
        assert (verification["attempts"], verification["resends"]) == ("5", "3")
        assert check(store, started, started.code).outcome == Outcome.OK

    def test_an_unknown_verification_is_not_found_and_leaves_nothing_behind(
        self, store, hasher, redis_client
    ):
        typed = hasher.code("reg_unknown", "123456")

        assert store.check("reg_unknown", "register", typed).outcome == Outcome.NOT_FOUND
        assert store.resend("reg_unknown", "register", typed).outcome == Outcome.NOT_FOUND
        store.release(Claim("reg_unknown", {}, "some-claim"))
        store.restore("reg_unknown", typed)

        assert store.get("reg_unknown", "register") is None
        assert redis_client.exists(store.key("reg_unknown")) == 0


class TestFingerprints:
    def test_a_fingerprint_is_kept_as_given_and_none_is_kept_without_one(self, store, start, redis_client):
        with_one = start(store, fingerprint=FINGERPRINT)
        without = start(store)

        assert redis_client.hget(with_one.key, "fp") == FINGERPRINT
        assert not redis_client.hexists(without.key, "fp")

    @pytest.mark.parametrize("typed", ["right", "wrong"])
    def test_a_check_with_another_fingerprint_is_not_found_and_costs_nothing(
        self, store, start, check, redis_client, typed
    ):
        started = start(store, fingerprint=FINGERPRINT)
        code = started.code if typed == "right" else "000000"

        results = [check(store, started, code, fingerprint=OTHER_FINGERPRINT) for _ in range(6)]

        assert {(result.outcome, result.claim, result.pseudonym) for result in results} == {
            (Outcome.NOT_FOUND, None, "")
        }
        verification = redis_client.hgetall(started.key)
        assert (verification["status"], verification["attempts"]) == ("code_sent", "5")
        assert "claim" not in verification
        assert check(store, started, started.code, fingerprint=FINGERPRINT).outcome == Outcome.OK

    def test_a_check_with_the_same_fingerprint_claims_and_hands_back_the_payload(self, store, start, check):
        started = start(store, fingerprint=FINGERPRINT)

        result = check(store, started, started.code, fingerprint=FINGERPRINT)

        assert result.outcome == Outcome.OK
        assert result.claim.payload == PAYLOAD

    def test_a_wrong_code_with_the_same_fingerprint_costs_an_attempt(self, store, start, check):
        started = start(store, fingerprint=FINGERPRINT)

        result = check(store, started, "000000", fingerprint=FINGERPRINT)

        assert (result.outcome, result.attempts_left) == (Outcome.WRONG, 4)

    def test_an_empty_fingerprint_matches_any(self, store, start, check):
        started = start(store, fingerprint=FINGERPRINT)

        assert check(store, started, "000000").outcome == Outcome.WRONG
        assert check(store, started, started.code).outcome == Outcome.OK

    def test_a_fingerprint_never_matches_a_verification_started_without_one(
        self, store, start, check, redis_client
    ):
        started = start(store)

        assert check(store, started, started.code, fingerprint=FINGERPRINT).outcome == Outcome.NOT_FOUND
        assert redis_client.hget(started.key, "attempts") == "5"
        assert check(store, started, started.code).outcome == Outcome.OK

    def test_another_fingerprint_learns_nothing_of_a_claimed_or_locked_verification(
        self, make_store, start, check
    ):
        store = make_store(max_attempts=1)
        claimed, locked = start(store, fingerprint=FINGERPRINT), start(store, fingerprint=FINGERPRINT)
        check(store, claimed, claimed.code)
        check(store, locked, "000000")

        for started in (claimed, locked):
            answer = check(store, started, started.code, fingerprint=OTHER_FINGERPRINT)
            assert (answer.outcome, answer.attempts_left, answer.pseudonym) == (Outcome.NOT_FOUND, 0, "")

    def test_a_resend_keeps_the_fingerprint(self, store, start, check, resend):
        started = start(store, fingerprint=FINGERPRINT)
        _, code = resend(store, started)

        assert check(store, started, code, fingerprint=OTHER_FINGERPRINT).outcome == Outcome.NOT_FOUND
        assert check(store, started, code, fingerprint=FINGERPRINT).outcome == Outcome.OK


class TestFinishing:
    @pytest.mark.parametrize(
        ("status", "outcome"),
        [(Status.COMPLETED, Outcome.COMPLETED), (Status.ALREADY_REGISTERED, Outcome.ALREADY_REGISTERED)],
    )
    def test_a_finished_verification_keeps_no_code_payload_or_address_and_takes_no_more_codes(
        self, store, start, check, resend, redis_client, status, outcome
    ):
        started = start(store, fingerprint=FINGERPRINT)
        _, code = resend(store, started)  # the first code is kept aside as prev_hash
        claimed = check(store, started, code, fingerprint=FINGERPRINT)

        store.finish(claimed.claim, status)

        verification = redis_client.hgetall(started.key)
        assert verification["status"] == status
        for gone in (
            "code_hash",
            "prev_hash",
            "prev_exp",
            "prev_resend_at",
            "to",
            "claim_exp",
        ):
            assert gone not in verification
        assert verification["claim"] == claimed.claim.token, "kept, so that a retried finish knows itself"
        assert verification["fp"] == FINGERPRINT, "kept, so that a late finalisation learns it is finished"
        assert payload_fields(verification) == {}
        assert verification.keys() <= CLOSED_FIELDS
        assert redis_client.zscore(started.pending_key, started.id) is not None, "a repeat learns of it"
        assert 0 < redis_client.pttl(started.key) <= 1800 * 1000
        assert check(store, started, code).outcome == outcome
        assert resend(store, started)[0].outcome == outcome
        assert store.get(started.id, "register").status == status

    def test_finishing_a_verification_that_lapsed_meanwhile_changes_nothing_and_says_so(
        self, make_store, start, check, redis_client
    ):
        store = make_store(ttl=1, lifetime=1)
        started = start(store)
        claimed = check(store, started, started.code)
        time.sleep(1.1)
        assert redis_client.exists(started.key) == 0

        assert store.finish(claimed.claim, Status.COMPLETED) is False

        assert redis_client.exists(started.key) == 0
        assert store.get(started.id, "register") is None
        assert check(store, started, started.code).outcome == Outcome.NOT_FOUND

    def test_finishing_needs_the_claim_still_held(self, make_store, start, check, redis_client):
        store = make_store(claim_lease=1)
        started = start(store)
        first = check(store, started, started.code).claim
        time.sleep(1.1)  # the first claim's lease runs out mid-request
        second = check(store, started, started.code).claim

        assert store.finish(first, Status.COMPLETED) is False
        assert redis_client.hget(started.key, "status") == "claimed"
        assert store.finish(second, Status.COMPLETED) is True
        assert redis_client.hget(started.key, "status") == "completed"
        assert store.finish(first, Status.COMPLETED) is False
        assert store.finish(second, Status.ALREADY_REGISTERED) is False
        assert redis_client.hget(started.key, "status") == "completed"

    def test_the_same_finish_made_again_succeeds_and_changes_nothing(self, store, start, check, redis_client):
        # A retry after the reply was lost (redis-py retries once on a dropped connection).
        started = start(store)
        claim = check(store, started, started.code).claim
        assert store.finish(claim, Status.COMPLETED) is True
        finished = redis_client.hgetall(started.key)

        assert store.finish(claim, Status.COMPLETED) is True
        assert redis_client.hgetall(started.key) == finished


class TestResending:
    def test_a_new_code_replaces_the_old_one_and_takes_one_resend(self, store, start, check, resend):
        started = start(store, "123456")

        answer, new_code = resend(store, started, "654321")

        assert answer.outcome == Outcome.OK
        assert answer.destination.address == "+966551234567"
        assert answer.locale == "ar"
        assert answer.challenge.resends_left == 2
        assert answer.challenge.attempts_left == 5
        assert answer.challenge.expires_in == 300
        assert check(store, started, "123456").outcome == Outcome.WRONG
        assert check(store, started, new_code).outcome == Outcome.OK

    def test_a_new_code_does_not_give_back_spent_attempts(self, store, start, check, resend):
        started = start(store)
        check(store, started, "000000")
        check(store, started, "000001")

        answer, _ = resend(store, started)

        assert answer.challenge.attempts_left == 3

    def test_a_resend_within_the_cooldown_is_too_soon_says_when_and_changes_nothing(
        self, make_store, start, check, resend, redis_client
    ):
        store = make_store(cooldown=60)
        started = start(store)

        answer, _ = resend(store, started)

        assert answer.outcome == Outcome.TOO_SOON
        assert 1 <= answer.retry_after <= 60
        assert redis_client.hget(started.key, "resends") == "3"
        assert check(store, started, started.code).outcome == Outcome.OK

    def test_resends_run_out_and_only_the_first_refusal_is_flagged(self, make_store, start, check, resend):
        store = make_store(max_resends=1)
        started = start(store)
        _, last_code = resend(store, started)

        first_refusal, _ = resend(store, started)
        second_refusal, _ = resend(store, started)

        assert first_refusal.outcome == Outcome.EXHAUSTED
        assert first_refusal.failure == Failure(
            started.id, FailureReason.TOO_MANY_RESENDS, "phone", started.verification.destination.masked, "SA"
        )
        assert (second_refusal.outcome, second_refusal.failure) == (Outcome.EXHAUSTED, None)
        assert check(store, started, last_code).outcome == Outcome.OK

    def test_a_new_code_never_outlives_its_verification(self, store, start, resend, redis_client):
        started = start(store)
        redis_client.pexpire(started.key, 10_000)  # the verification has ten seconds left

        answer, _ = resend(store, started)

        assert answer.outcome == Outcome.OK
        assert 0 < answer.challenge.expires_in <= 10
        assert store.get(started.id, "register").expires_in <= 10


class TestRestoringAfterAFailedSend:
    def test_the_old_code_the_resend_and_the_cooldown_come_back(
        self, make_store, start, check, resend, hasher
    ):
        started = start(make_store(cooldown=0))  # its first code may be replaced at once
        store = make_store(cooldown=60)
        undelivered, undelivered_code = resend(store, started, "654321")
        assert undelivered.outcome == Outcome.OK
        assert resend(store, started)[0].outcome == Outcome.TOO_SOON

        store.restore(started.id, hasher.code(started.id, undelivered_code))

        challenge = store.get(started.id, "register")
        assert challenge.resends_left == 3
        assert challenge.resend_in == 0
        assert check(store, started, undelivered_code).outcome == Outcome.WRONG
        assert check(store, started, started.code).outcome == Outcome.OK

    def test_nothing_changes_once_a_newer_code_has_replaced_it(self, store, start, check, resend, hasher):
        started = start(store)
        _, failed_code = resend(store, started, "654321")
        _, newer_code = resend(store, started, "987654")

        store.restore(started.id, hasher.code(started.id, failed_code))

        assert store.get(started.id, "register").resends_left == 1
        assert check(store, started, newer_code).outcome == Outcome.OK


class TestSilentVerifications:
    """A login for no account: checked, resent, locked and expired like any other, but no
    code ever matches it, not even the one whose hash it holds."""

    def test_the_code_whose_hash_it_holds_is_wrong_and_costs_an_attempt(self, store, start, check):
        started = start(store, purpose="login", silent=True)
        result = check(store, started, started.code)
        assert (result.outcome, result.attempts_left) == (Outcome.WRONG, 4)
        assert check(store, start(store, purpose="login"), started.code).outcome == Outcome.OK, "as it would"

    def test_a_new_code_says_it_is_silent_and_does_not_match_either(self, store, start, check, resend):
        started = start(store, purpose="login", silent=True)
        resent, code = resend(store, started)
        assert resent.outcome == Outcome.OK
        assert resent.silent and resent.destination.address == started.verification.destination.address
        assert check(store, started, code).outcome == Outcome.WRONG

    def test_an_ordinary_verification_is_not_silent(self, store, start, resend, redis_client):
        started = start(store)
        assert resend(store, started)[0].silent is False
        assert "silent" not in redis_client.hgetall(started.key)

    def test_the_last_wrong_code_locks_it(self, make_store, start, check):
        store = make_store(max_attempts=2)
        started = start(store, purpose="login", silent=True)
        check(store, started, started.code)
        assert check(store, started, started.code).outcome == Outcome.LOCKED_NOW


class TestNewestPending:
    def test_the_newest_verification_of_a_destination_is_the_one_found(self, store, start):
        older = start(store)
        newer = start(store)
        assert older.pseudonym == newer.pseudonym

        assert store.newest_pending(newer.pseudonym, "register") == newer.id

    def test_starts_in_quick_succession_are_found_newest_first(self, store, start, redis_client):
        started = [start(store) for _ in range(25)]  # many within one millisecond

        assert redis_client.zrange(started[0].pending_key, 0, -1) == [each.id for each in started]
        for newest in reversed(started):
            assert store.newest_pending(newest.pseudonym, "register") == newest.id
            store.forget_pending(newest.id, newest.pseudonym, "register")
        assert store.newest_pending(started[0].pseudonym, "register") is None

    def test_start_times_are_kept_in_microseconds(self, store, start, redis_client):
        before = time.time_ns() // 1000
        started = start(store)
        after = time.time_ns() // 1000

        assert before <= redis_client.zscore(started.pending_key, started.id) <= after

    @pytest.mark.parametrize(("older", "newer"), [("register", "login"), ("login", "register")])
    def test_a_newer_verification_of_another_purpose_does_not_hide_an_older_one(
        self, store, start, redis_client, older, newer
    ):
        first = start(store, purpose=older)
        second = start(store, purpose=newer)
        assert first.pseudonym == second.pseudonym
        assert first.pending_key != second.pending_key

        assert store.newest_pending(first.pseudonym, older) == first.id
        assert store.newest_pending(first.pseudonym, newer) == second.id
        assert redis_client.zrange(first.pending_key, 0, -1) == [first.id]
        assert redis_client.zrange(second.pending_key, 0, -1) == [second.id]

    def test_finishing_a_verification_of_one_purpose_leaves_the_other_pending(self, store, start, check):
        registration = start(store, purpose="register")
        login = start(store, purpose="login")

        store.finish(check(store, login, login.code).claim, Status.COMPLETED)

        assert store.newest_pending(login.pseudonym, "login") == login.id
        assert store.newest_pending(registration.pseudonym, "register") == registration.id

    @pytest.mark.parametrize("status", [Status.COMPLETED, Status.ALREADY_REGISTERED])
    def test_a_finished_verification_stays_the_newest_so_that_a_repeat_learns_it_is_closed(
        self, store, start, check, status
    ):
        start(store)
        newer = start(store)

        store.finish(check(store, newer, newer.code).claim, status)

        assert store.newest_pending(newer.pseudonym, "register") == newer.id
        assert check(store, newer, newer.code).outcome == Outcome(status.value)

    def test_another_destination_has_nothing_pending(self, store, start, hasher):
        start(store)
        assert (
            store.newest_pending(hasher.destination("phone", "+966559876543").pseudonym, "register") is None
        )

    def test_a_first_code_that_never_left_is_forgotten(self, store, start, redis_client):
        started = start(store)
        other_purpose = start(store, purpose="login")

        store.discard(started.verification)

        assert redis_client.exists(started.key) == 0
        assert redis_client.zscore(started.pending_key, started.id) is None
        assert store.newest_pending(started.pseudonym, "register") is None
        assert store.newest_pending(started.pseudonym, "login") == other_purpose.id

    def test_a_verification_older_than_its_lifetime_is_skipped_though_still_listed(
        self, make_store, start, redis_client
    ):
        store = make_store(ttl=1, lifetime=1)
        stale = start(store)
        time.sleep(0.5)
        fresh = start(store)  # keeps the list alive for another second
        store.forget_pending(fresh.id, fresh.pseudonym, "register")
        time.sleep(0.7)

        assert redis_client.zscore(stale.pending_key, stale.id) is not None
        assert store.newest_pending(stale.pseudonym, "register") is None

    def test_the_list_lives_as_long_as_its_newest_verification(self, store, start, redis_client):
        older = start(store)
        time.sleep(0.3)
        newer = start(store)

        list_ttl = redis_client.pttl(newer.pending_key)
        assert redis_client.pttl(older.key) < list_ttl <= redis_client.pttl(newer.key) + 50
