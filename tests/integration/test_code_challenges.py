"""CodeChallenges (app.verification) on the real store: one purpose each, sharing destinations."""

from dataclasses import asdict

import pytest

from app.codes import Claim
from app.codes.store import COMPLETED
from app.errors import ChannelUnavailable, InvalidCode, LoginNotFound, RegistrationNotFound, TooManyAttempts
from app.registration.service import RegistrationRequest
from tests.support import wrong

PHONE_NUMBER = "+966551234567"


@pytest.fixture
def registrations(make_challenges):
    return make_challenges("register")


@pytest.fixture
def logins(make_challenges):
    return make_challenges("login")


def test_a_claim_hands_back_the_payload_less_its_none_values(registrations, sender, store):
    challenge = registrations.send_first(
        "phone", PHONE_NUMBER, "ar", {"first_name": "Sara", "last_name": None, "phone": PHONE_NUMBER}
    )

    claim = registrations.claim(challenge.id, sender.last_code())

    assert claim == Claim(
        id=challenge.id,
        purpose="register",
        destination=claim.destination,
        payload={"first_name": "Sara", "phone": PHONE_NUMBER},
        token=claim.token,
    )
    assert claim.destination
    assert store.newest_pending(claim.destination, "register") == challenge.id


def test_a_registration_comes_back_whole_from_what_the_store_kept(registrations, sender):
    registration = RegistrationRequest(
        first_name="Omar",
        last_name=None,
        email="omar@example.com",
        phone=None,
        country_code=None,
        verified_by="email",
        locale="en",
    )
    challenge = registrations.send_first(
        "email", registration.email, registration.locale, asdict(registration)
    )

    claim = registrations.claim(challenge.id, sender.last_code())

    assert None not in claim.payload.values()
    assert RegistrationRequest.from_payload(claim.payload) == registration


@pytest.mark.parametrize("first", ["register", "login"])
def test_a_newer_verification_of_one_purpose_does_not_hide_an_older_one_of_the_other(
    registrations, logins, first
):
    older_flow, newer_flow = (registrations, logins) if first == "register" else (logins, registrations)
    older = older_flow.send_first("phone", PHONE_NUMBER, "en", {"first_name": "Sara"})
    newer = newer_flow.send_first("phone", PHONE_NUMBER, "en", {"first_name": "Sara"})

    assert older_flow.newest_pending("phone", PHONE_NUMBER) == older.id
    assert newer_flow.newest_pending("phone", PHONE_NUMBER) == newer.id


def test_two_starts_in_quick_succession_finalise_the_newer(registrations):
    older = registrations.send_first("phone", PHONE_NUMBER, "en", {"first_name": "Sara"})
    newer = registrations.send_first("phone", PHONE_NUMBER, "en", {"first_name": "Sara"})

    assert registrations.newest_pending("phone", PHONE_NUMBER) == newer.id != older.id


@pytest.mark.parametrize(
    ("purpose", "not_found"), [("register", RegistrationNotFound), ("login", LoginNotFound)]
)
def test_nothing_pending_of_a_purpose_is_its_own_not_found(make_challenges, purpose, not_found):
    other = make_challenges("login" if purpose == "register" else "register")
    other.send_first("phone", PHONE_NUMBER, "en", {"first_name": "Sara"})

    with pytest.raises(not_found):
        make_challenges(purpose).newest_pending("phone", PHONE_NUMBER)


def test_a_finished_verification_is_no_longer_pending_but_the_other_purpose_still_is(
    registrations, logins, sender
):
    registration = registrations.send_first("phone", PHONE_NUMBER, "en", {"first_name": "Sara"})
    login = logins.send_first("phone", PHONE_NUMBER, "en", {})

    logins.finish(logins.claim(login.id, sender.last_code()), COMPLETED)

    with pytest.raises(LoginNotFound):
        logins.newest_pending("phone", PHONE_NUMBER)
    assert registrations.newest_pending("phone", PHONE_NUMBER) == registration.id


def test_a_locked_verification_is_no_longer_pending(make_store, sender, make_challenges):
    registrations = make_challenges("register", on=make_store(max_attempts=2))
    challenge = registrations.send_first("phone", PHONE_NUMBER, "en", {"first_name": "Sara"})
    code = sender.last_code()

    with pytest.raises(InvalidCode):
        registrations.claim(challenge.id, wrong(code))
    with pytest.raises(TooManyAttempts):
        registrations.claim(challenge.id, wrong(code))

    with pytest.raises(RegistrationNotFound):
        registrations.newest_pending("phone", PHONE_NUMBER)


def test_a_first_code_that_could_not_be_sent_leaves_nothing_pending(registrations, sender, redis_client):
    sender.failing = True

    with pytest.raises(ChannelUnavailable):
        registrations.send_first("phone", PHONE_NUMBER, "en", {"first_name": "Sara"})

    with pytest.raises(RegistrationNotFound):
        registrations.newest_pending("phone", PHONE_NUMBER)
    assert list(redis_client.scan_iter()) == []
