"""The codes service (app.codes.Codes) on the real store: one purpose each, sharing destinations."""

import time
from dataclasses import asdict

import pytest

from app.codes import Claim, Status
from app.errors import (
    AlreadyCompleted,
    AlreadyRegistered,
    ChannelUnavailable,
    CodeExpired,
    InvalidCode,
    LoginNotFound,
    RegistrationNotFound,
    TooManyAttempts,
    ValidationFailed,
)
from app.registration.service import Registration
from tests.support import wrong

PHONE_NUMBER = "+966551234567"
DETAILS = {"first_name": "Sara", "last_name": "Al-Qahtani", "phone": PHONE_NUMBER, "email": None}
NOT_A_CODE = "Enter every digit of the code we sent, and nothing else."
# Nothing a six-digit code can be read from: letters, too few or too many digits, nothing.
NOT_CODES = [
    pytest.param("abcdef", id="letters"),
    pytest.param("12ab56", id="letters among digits"),
    pytest.param("12345", id="too short"),
    pytest.param("1234567", id="too long"),
    pytest.param("", id="empty"),
]


@pytest.fixture
def registrations(make_codes):
    return make_codes("register")


@pytest.fixture
def logins(make_codes):
    return make_codes("login")


def test_a_claim_hands_back_the_payload_less_its_none_values(registrations, sender, store):
    challenge = registrations.start(
        registrations.hasher.destination("phone", PHONE_NUMBER),
        "ar",
        {"first_name": "Sara", "last_name": None, "phone": PHONE_NUMBER},
    )

    claim = registrations.claim(challenge.id, sender.last_code())

    assert claim == Claim(challenge.id, {"first_name": "Sara", "phone": PHONE_NUMBER}, claim.token)
    pseudonym = registrations.hasher.destination("phone", PHONE_NUMBER).pseudonym
    assert store.newest_pending(pseudonym, "register") == challenge.id


def test_a_registration_comes_back_whole_from_what_the_store_kept(registrations, sender):
    registration = Registration("email", email="omar@example.com", first_name="Omar")
    payload = {**asdict(registration), "locale": "en"}
    challenge = registrations.start(
        registrations.hasher.destination("email", registration.email), "en", payload
    )

    claim = registrations.claim(challenge.id, sender.last_code())

    assert None not in claim.payload.values()
    assert claim.payload["locale"] == "en"
    assert Registration.from_payload(claim.payload) == registration


@pytest.mark.parametrize("first", ["register", "login"])
def test_a_newer_verification_of_one_purpose_does_not_hide_an_older_one_of_the_other(
    registrations, logins, first
):
    older_flow, newer_flow = (registrations, logins) if first == "register" else (logins, registrations)
    older = older_flow.start(
        older_flow.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
    )
    newer = newer_flow.start(
        newer_flow.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
    )

    assert older_flow.newest_pending(older_flow.hasher.destination("phone", PHONE_NUMBER)) == older.id
    assert newer_flow.newest_pending(newer_flow.hasher.destination("phone", PHONE_NUMBER)) == newer.id


def test_two_starts_in_quick_succession_finalise_the_newer(registrations):
    older = registrations.start(
        registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
    )
    newer = registrations.start(
        registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
    )

    assert (
        registrations.newest_pending(registrations.hasher.destination("phone", PHONE_NUMBER))
        == newer.id
        != older.id
    )


@pytest.mark.parametrize(
    ("purpose", "not_found"), [("register", RegistrationNotFound), ("login", LoginNotFound)]
)
def test_nothing_pending_of_a_purpose_is_its_own_not_found(make_codes, purpose, not_found):
    other = make_codes("login" if purpose == "register" else "register")
    other.start(other.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"})

    with pytest.raises(not_found):
        make_codes(purpose).newest_pending(make_codes(purpose).hasher.destination("phone", PHONE_NUMBER))


def test_a_finished_verification_answers_as_finished_and_the_other_purpose_is_still_pending(
    registrations, logins, sender
):
    registration = registrations.start(
        registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
    )
    login = logins.start(logins.hasher.destination("phone", PHONE_NUMBER), "en", {})
    code = sender.last_code()

    logins.store.finish(logins.claim(login.id, code), Status.COMPLETED)

    with pytest.raises(AlreadyCompleted):
        logins.claim(logins.newest_pending(logins.hasher.destination("phone", PHONE_NUMBER)), code)
    assert (
        registrations.newest_pending(registrations.hasher.destination("phone", PHONE_NUMBER))
        == registration.id
    )


def test_a_locked_verification_is_no_longer_pending(make_store, sender, make_codes):
    registrations = make_codes("register", on=make_store(max_attempts=2))
    challenge = registrations.start(
        registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
    )
    code = sender.last_code()

    with pytest.raises(InvalidCode):
        registrations.claim(challenge.id, wrong(code))
    with pytest.raises(TooManyAttempts):
        registrations.claim(challenge.id, wrong(code))

    with pytest.raises(RegistrationNotFound):
        registrations.newest_pending(registrations.hasher.destination("phone", PHONE_NUMBER))


def test_a_first_code_that_could_not_be_sent_leaves_nothing_pending(registrations, sender, redis_client):
    sender.failing = True

    with pytest.raises(ChannelUnavailable):
        registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
        )

    with pytest.raises(RegistrationNotFound):
        registrations.newest_pending(registrations.hasher.destination("phone", PHONE_NUMBER))
    assert list(redis_client.scan_iter()) == []


class TestDetails:
    def test_a_verification_started_with_details_keeps_only_their_fingerprint(
        self, registrations, hasher, redis_client, store
    ):
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER),
            "en",
            {"first_name": "Sara"},
            details=DETAILS,
        )

        verification = redis_client.hgetall(store.key(challenge.id))
        assert verification["fp"] == hasher.fingerprint(DETAILS)
        assert not any("Al-Qahtani" in value for value in verification.values())

    def test_a_verification_started_without_details_keeps_no_fingerprint(
        self, registrations, redis_client, store
    ):
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
        )
        assert not redis_client.hexists(store.key(challenge.id), "fp")

    def test_the_same_details_claim_it(self, registrations, sender):
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER),
            "en",
            {"first_name": "Sara"},
            details=DETAILS,
        )

        claim = registrations.claim(challenge.id, sender.last_code(), details=dict(reversed(DETAILS.items())))

        assert claim.payload == {"first_name": "Sara"}

    @pytest.mark.parametrize(
        "other",
        [
            pytest.param({**DETAILS, "first_name": "Mallory"}, id="another name"),
            pytest.param({**DETAILS, "last_name": None}, id="a name left out"),
            pytest.param({**DETAILS, "email": "sara@example.com"}, id="an email that was not given"),
            pytest.param({}, id="none at all"),
        ],
    )
    def test_other_details_are_not_found_whatever_the_code_and_cost_nothing(
        self, registrations, sender, store, other
    ):
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER),
            "en",
            {"first_name": "Sara"},
            details=DETAILS,
        )
        code = sender.last_code()

        for typed in (code, wrong(code), code):
            with pytest.raises(RegistrationNotFound):
                registrations.claim(challenge.id, typed, details=other)

        assert registrations.status(challenge.id).attempts_left == 5
        assert registrations.claim(challenge.id, code, details=DETAILS).id == challenge.id

    def test_a_claim_without_details_takes_any(self, registrations, sender):
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER),
            "en",
            {"first_name": "Sara"},
            details=DETAILS,
        )
        code = sender.last_code()

        with pytest.raises(InvalidCode):
            registrations.claim(challenge.id, wrong(code))
        assert registrations.claim(challenge.id, code).id == challenge.id

    def test_details_never_match_a_verification_started_without_them(self, registrations, sender):
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
        )

        with pytest.raises(RegistrationNotFound):
            registrations.claim(challenge.id, sender.last_code(), details=DETAILS)
        assert registrations.status(challenge.id).attempts_left == 5

    def test_a_new_code_keeps_the_details_it_was_started_with(self, registrations, sender):
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER),
            "en",
            {"first_name": "Sara"},
            details=DETAILS,
        )
        registrations.resend(challenge.id)
        code = sender.last_code()

        with pytest.raises(RegistrationNotFound):
            registrations.claim(challenge.id, code, details={**DETAILS, "first_name": "Mallory"})
        assert registrations.claim(challenge.id, code, details=DETAILS).id == challenge.id


class TestSomethingThatIsNoCode:
    """What was typed cannot be a code: the verification's own state answers first."""

    @pytest.mark.parametrize("typed", NOT_CODES)
    def test_for_a_live_verification_it_is_a_field_error_that_costs_nothing(
        self, registrations, sender, typed
    ):
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
        )

        with pytest.raises(ValidationFailed) as refused:
            registrations.claim(challenge.id, typed)

        assert refused.value.data == {"errors": {"code": [NOT_A_CODE]}}
        assert registrations.status(challenge.id).attempts_left == 5
        assert registrations.claim(challenge.id, sender.last_code()).id == challenge.id

    def test_a_code_of_another_length_is_no_code(self, make_codes, sender):
        registrations = make_codes("register", code_length=8)
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
        )
        code = sender.last_code()

        with pytest.raises(ValidationFailed):
            registrations.claim(challenge.id, code[:6])
        assert registrations.claim(challenge.id, code).id == challenge.id

    @pytest.mark.parametrize("typed", NOT_CODES)
    @pytest.mark.parametrize(
        ("purpose", "not_found"), [("register", RegistrationNotFound), ("login", LoginNotFound)]
    )
    def test_for_an_unknown_verification_it_is_not_found(self, make_codes, typed, purpose, not_found):
        challenges = make_codes(purpose)
        with pytest.raises(not_found):
            challenges.claim(f"{challenges.purpose.id_prefix}_unknown", typed)

    @pytest.mark.parametrize("typed", NOT_CODES)
    def test_for_a_verification_of_another_purpose_it_is_not_found(self, registrations, logins, typed):
        login = logins.start(logins.hasher.destination("phone", PHONE_NUMBER), "en", {})

        with pytest.raises(RegistrationNotFound):
            registrations.claim(login.id, typed)

    @pytest.mark.parametrize("typed", NOT_CODES)
    def test_for_a_locked_verification_it_is_too_many_attempts(self, make_store, make_codes, sender, typed):
        registrations = make_codes("register", on=make_store(max_attempts=1))
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
        )
        with pytest.raises(TooManyAttempts):
            registrations.claim(challenge.id, wrong(sender.last_code()))

        with pytest.raises(TooManyAttempts) as refused:
            registrations.claim(challenge.id, typed)
        assert refused.value.data == {"attempts_left": 0}

    @pytest.mark.parametrize("typed", NOT_CODES)
    @pytest.mark.parametrize(
        ("status", "error"),
        [(Status.COMPLETED, AlreadyCompleted), (Status.ALREADY_REGISTERED, AlreadyRegistered)],
    )
    def test_for_a_finished_verification_it_is_what_finished_it(
        self, registrations, sender, typed, status, error
    ):
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
        )
        registrations.store.finish(registrations.claim(challenge.id, sender.last_code()), status)

        with pytest.raises(error):
            registrations.claim(challenge.id, typed)

    def test_for_an_expired_code_it_is_code_expired(self, make_store, make_codes):
        registrations = make_codes("register", on=make_store(ttl=1, lifetime=60))
        challenge = registrations.start(
            registrations.hasher.destination("phone", PHONE_NUMBER), "en", {"first_name": "Sara"}
        )
        time.sleep(1.1)

        for typed in ("abcdef", "12345", ""):
            with pytest.raises(CodeExpired) as refused:
                registrations.claim(challenge.id, typed)
            assert refused.value.data == {"attempts_left": 5}
