"""Signing existing customers in with a code, and out again (API.md §1b)."""

import re
import time

import pytest

from tests.support import MASKED_PHONE, email_registration, phone_registration, start, verify, wrong
from tests.support import PHONE as PHONE_NUMBER

BY_PHONE = {"verified_by": "phone", "phone": "0551234567", "country_code": "SA"}
BY_EMAIL = {"verified_by": "email", "email": "omar@example.com"}


def register(client, outbox, payload: dict) -> dict:
    """An account, through the registration flow: its customer and first tokens."""
    response = verify(client, start(client, payload)["registration_id"], outbox.last_code())
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def log_in(client, body: dict, **kwargs):
    return client.post("/auth/login", json=body, **kwargs)


def begin(client, body: dict) -> dict:
    response = log_in(client, body)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def register_by_gateway(client, gateway) -> None:
    """An account whose registration code went through the SMS gateway."""
    registration_id = start(client, phone_registration())["registration_id"]
    code = re.search(r"\b(\d{6})\b", gateway.requests[-1].json()["body"]).group(1)
    assert verify(client, registration_id, code).status_code == 201


def code_of(outbox, sent: int) -> str:
    """The code of the message sent after the first `sent`: sign-in codes leave in the
    background, after the answer."""
    return outbox.code_after(sent)


def begin_with_code(client, outbox, body: dict) -> tuple[str, str]:
    sent = len(outbox.messages)
    login_id = begin(client, body)["login_id"]
    return login_id, code_of(outbox, sent)


def nothing_more_sent(outbox, sent: int) -> None:
    """No message beyond the first `sent`, once a background send would have arrived."""
    time.sleep(0.3)
    assert len(outbox.messages) == sent, outbox.messages[sent:]


def enter(client, login_id: str, code: str):
    return client.post(f"/auth/login/{login_id}/verify", json={"code": code})


def resend(client, login_id: str):
    return client.post(f"/auth/login/{login_id}/resend", json={})


def me(client, access_token: str):
    return client.get("/customers/me", headers={"Authorization": f"Bearer {access_token}"})


def refresh(client, refresh_token: str):
    return client.post("/auth/token/refresh", json={"refresh_token": refresh_token})


def log_out(client, refresh_token: str):
    return client.post("/auth/logout", json={"refresh_token": refresh_token})


def test_a_customer_signs_in_by_phone_and_the_new_tokens_work(client, outbox):
    account = register(client, outbox, phone_registration())
    sent = len(outbox.messages)

    response = log_in(client, {**BY_PHONE, "phone": "+966 55 123 4567", "country_key": "966"})

    assert response.status_code == 202
    challenge = response.get_json()
    assert challenge["login_id"].startswith("log_")
    assert response.headers["Location"] == f"/auth/login/{challenge['login_id']}"
    assert challenge == {
        "login_id": challenge["login_id"],
        "status": "code_sent",
        "verified_by": "phone",
        "destination": MASKED_PHONE,
        "code_length": 6,
        "expires_in": 300,
        "resend_in": 0,  # the test environment sets RESEND_COOLDOWN=0
        "attempts_left": 5,
        "resends_left": 3,
    }
    code = code_of(outbox, sent)

    signed_in = enter(client, challenge["login_id"], code)

    assert signed_in.status_code == 200
    session = signed_in.get_json()
    assert session["customer"] == account["customer"]
    assert (session["token_type"], session["expires_in"]) == ("Bearer", 900)
    assert session["refresh_token"] != account["refresh_token"]
    assert me(client, session["access_token"]).get_json() == account["customer"]
    assert refresh(client, session["refresh_token"]).status_code == 200


def test_a_customer_signs_in_by_email_whatever_its_case(client, outbox):
    account = register(client, outbox, email_registration(email="Omar.Saleh@Example.COM"))

    sent = len(outbox.messages)
    challenge = begin(client, {"verified_by": "email", "email": "OMAR.SALEH@example.com"})
    session = enter(client, challenge["login_id"], code_of(outbox, sent)).get_json()

    assert challenge["destination"] == "O••••H@example.com"
    assert session["customer"]["id"] == account["customer"]["id"]
    assert me(client, session["access_token"]).status_code == 200


def test_a_customer_signs_in_by_email_whatever_the_case_of_its_accented_letters(client, outbox):
    """Unicode case folding, on every database (SQLite's lower() folds only ASCII)."""
    account = register(client, outbox, email_registration(email="Émile.Zoë@example.com"))

    sent = len(outbox.messages)
    challenge = begin(client, {"verified_by": "email", "email": "éMILE.ZOË@EXAMPLE.COM"})
    session = enter(client, challenge["login_id"], code_of(outbox, sent)).get_json()

    assert session["customer"]["id"] == account["customer"]["id"]


def test_an_unknown_identity_gets_the_same_answer_and_no_message(client, outbox):
    register(client, outbox, phone_registration())
    sent = len(outbox.messages)

    known = log_in(client, BY_PHONE)
    unknown = log_in(client, {**BY_PHONE, "phone": "0551234568"})

    code_of(outbox, sent)
    nothing_more_sent(outbox, sent + 1)  # nothing for no account
    assert known.status_code == unknown.status_code == 202
    assert known.headers["Location"].rsplit("/", 1)[0] == unknown.headers["Location"].rsplit("/", 1)[0]
    assert set(known.headers.keys()) == set(unknown.headers.keys())
    ignore = {"login_id": None, "destination": None}
    assert known.get_json() | ignore == unknown.get_json() | ignore
    assert unknown.get_json()["login_id"].startswith("log_")
    assert unknown.get_json()["destination"] == "+966 55••••568"


def test_a_sign_in_for_no_account_behaves_like_a_real_one_but_no_code_completes_it(make_app, outbox):
    client = make_app(OTP_MAX_ATTEMPTS="3").test_client()
    login_id = begin(client, BY_PHONE)["login_id"]

    first = enter(client, login_id, "123456")
    resent = resend(client, login_id)
    status = client.get(f"/auth/login/{login_id}")
    second = enter(client, login_id, "654321")
    third = enter(client, login_id, "000000")

    nothing_more_sent(outbox, 0)
    assert (first.status_code, first.get_json()["code"], first.get_json()["attempts_left"]) == (
        400,
        "invalid_code",
        2,
    )
    assert resent.status_code == 202
    assert (resent.get_json()["resends_left"], resent.get_json()["attempts_left"]) == (2, 2)
    assert status.get_json()["status"] == "code_sent"
    assert second.get_json()["attempts_left"] == 1
    assert (third.status_code, third.get_json()["code"]) == (429, "too_many_attempts")


def test_a_code_goes_only_to_an_identifier_the_account_has_verified(client, outbox):
    # Registered by phone; the email is the customer's word only, never proven.
    register(client, outbox, phone_registration(email="sara@example.com"))
    sent = len(outbox.messages)

    response = log_in(client, {"verified_by": "email", "email": "sara@example.com"})

    assert response.status_code == 202
    nothing_more_sent(outbox, sent)


def test_a_wrong_code_costs_an_attempt_and_the_last_one_locks_the_sign_in(make_app, outbox):
    client = make_app(OTP_MAX_ATTEMPTS="2").test_client()
    register(client, outbox, phone_registration())
    login_id, code = begin_with_code(client, outbox, BY_PHONE)

    first = enter(client, login_id, wrong(code))
    last = enter(client, login_id, wrong(code))
    right_too_late = enter(client, login_id, code)

    assert (first.status_code, first.get_json()["code"], first.get_json()["attempts_left"]) == (
        400,
        "invalid_code",
        1,
    )
    assert (last.status_code, last.get_json()["code"]) == (429, "too_many_attempts")
    assert (right_too_late.status_code, right_too_late.get_json()["code"]) == (429, "too_many_attempts")
    assert resend(client, login_id).get_json()["code"] == "too_many_attempts"
    assert client.get(f"/auth/login/{login_id}").get_json()["status"] == "locked"


def test_an_expired_code_answers_410_and_a_new_code_works(make_app, outbox):
    client = make_app(OTP_TTL="1", REGISTRATION_TTL="60").test_client()
    register(client, outbox, phone_registration())
    login_id, code = begin_with_code(client, outbox, BY_PHONE)
    time.sleep(1.1)

    expired = enter(client, login_id, code)
    sent = len(outbox.messages)
    resent = resend(client, login_id)
    signed_in = enter(client, login_id, code_of(outbox, sent))

    assert (expired.status_code, expired.get_json()["code"], expired.get_json()["attempts_left"]) == (
        410,
        "code_expired",
        5,
    )
    assert resent.status_code == 202
    assert signed_in.status_code == 200


def test_a_resend_makes_the_older_code_invalid(client, outbox):
    register(client, outbox, email_registration())
    login_id, old_code = begin_with_code(client, outbox, BY_EMAIL)

    sent = len(outbox.messages)
    resent = resend(client, login_id)
    new_code = code_of(outbox, sent)

    assert resent.status_code == 202
    assert resent.headers["Location"] == f"/auth/login/{login_id}"
    assert resent.get_json()["resends_left"] == 2
    if old_code != new_code:
        assert enter(client, login_id, old_code).get_json()["code"] == "invalid_code"
    assert enter(client, login_id, new_code).status_code == 200


def test_a_resend_within_the_cooldown_says_when_to_retry(make_app, outbox):
    client = make_app(RESEND_COOLDOWN="1").test_client()
    register(client, outbox, phone_registration())
    time.sleep(1.05)  # the registration's own code started the destination's cooldown
    login_id = begin(client, BY_PHONE)["login_id"]

    too_soon = resend(client, login_id)
    time.sleep(1.05)
    later = resend(client, login_id)

    assert too_soon.status_code == 429
    assert too_soon.get_json()["code"] == "resend_too_soon"
    assert too_soon.headers["Retry-After"] == "1"
    assert later.status_code == 202


def test_registration_and_sign_in_share_a_destination_s_cooldown(make_app, outbox):
    client = make_app(RESEND_COOLDOWN="1").test_client()
    register(client, outbox, phone_registration())

    at_once = log_in(client, BY_PHONE)
    time.sleep(1.05)
    later = log_in(client, BY_PHONE)

    assert (at_once.status_code, at_once.get_json()["code"]) == (429, "rate_limited")
    assert at_once.headers["Retry-After"] == "1"
    assert later.status_code == 202


def test_resends_run_out(make_app, outbox):
    client = make_app(MAX_RESENDS="1").test_client()
    register(client, outbox, phone_registration())
    login_id, _ = begin_with_code(client, outbox, BY_PHONE)

    sent = len(outbox.messages)
    assert resend(client, login_id).status_code == 202
    exhausted = resend(client, login_id)

    assert (exhausted.status_code, exhausted.get_json()["code"]) == (429, "too_many_resends")
    assert enter(client, login_id, code_of(outbox, sent)).status_code == 200


def test_a_sign_in_code_works_once(client, outbox):
    register(client, outbox, phone_registration())
    login_id, code = begin_with_code(client, outbox, BY_PHONE)

    assert enter(client, login_id, code).status_code == 200
    again = enter(client, login_id, code)

    assert again.status_code == 409
    assert again.get_json() == {"code": "already_completed", "message": "This sign-in is already complete."}
    assert client.get(f"/auth/login/{login_id}").get_json()["status"] == "completed"


def test_a_login_code_never_completes_a_registration_nor_the_reverse(client, outbox):
    register(client, outbox, phone_registration())
    registration_id = start(client, phone_registration(first_name="Again"))["registration_id"]
    registration_code = outbox.last_code()
    login_id, login_code = begin_with_code(client, outbox, BY_PHONE)

    login_as_registration = verify(client, login_id, login_code)
    registration_as_login = enter(client, registration_id, registration_code)
    finalised_with_login_code = client.post(
        "/auth/register", json=phone_registration(first_name="Again", code=login_code)
    )

    assert login_as_registration.get_json()["code"] == "registration_not_found"
    assert registration_as_login.get_json()["code"] == "login_not_found"
    assert client.get(f"/auth/register/{login_id}").status_code == 404
    assert client.get(f"/auth/login/{registration_id}").status_code == 404
    if login_code != registration_code:
        assert finalised_with_login_code.get_json()["code"] == "invalid_code"
        assert enter(client, login_id, registration_code).get_json()["code"] == "invalid_code"
    # Each code still does what it was sent for.
    assert enter(client, login_id, login_code).status_code == 200
    assert verify(client, registration_id, registration_code).get_json()["code"] == "already_registered"


def test_an_unknown_sign_in_is_not_found(client):
    for answer in (
        enter(client, "log_nothing", "123456"),
        resend(client, "log_nothing"),
        client.get("/auth/login/log_nothing"),
    ):
        assert answer.status_code == 404
        assert answer.get_json()["code"] == "login_not_found"


def test_signing_out_revokes_the_refresh_token_and_its_family_but_no_other_session(client, outbox):
    account = register(client, outbox, phone_registration())
    rotated = refresh(client, account["refresh_token"]).get_json()
    other_device = enter(client, *begin_with_code(client, outbox, BY_PHONE)).get_json()

    response = log_out(client, rotated["refresh_token"])

    assert response.status_code == 204
    assert response.get_data() == b""
    assert refresh(client, rotated["refresh_token"]).get_json()["code"] == "invalid_token"
    assert refresh(client, account["refresh_token"]).status_code == 401
    assert refresh(client, other_device["refresh_token"]).status_code == 200
    assert me(client, rotated["access_token"]).status_code == 200, "an access token simply expires"


def test_signing_out_twice_or_with_an_unknown_token_is_no_error(client, outbox):
    account = register(client, outbox, phone_registration())
    assert log_out(client, account["refresh_token"]).status_code == 204
    assert log_out(client, account["refresh_token"]).status_code == 204
    assert log_out(client, "rt_never_issued").status_code == 204

    missing = client.post("/auth/logout", json={})
    assert (missing.status_code, missing.get_json()["errors"]) == (
        422,
        {"refresh_token": ["Missing data for required field."]},
    )


class TestRevealingExistingAccounts:
    def test_when_configured_an_unknown_identity_is_not_found_and_nothing_is_sent(self, make_app, outbox):
        client = make_app(REVEAL_EXISTING_ACCOUNTS="true").test_client()
        register(client, outbox, phone_registration())
        sent = len(outbox.messages)

        unknown = log_in(client, {**BY_PHONE, "phone": "0551234568"})
        unverified_email = log_in(client, {"verified_by": "email", "email": "sara@example.com"})
        known = log_in(client, BY_PHONE)

        assert (unknown.status_code, unknown.get_json()["code"]) == (404, "account_not_found")
        assert unverified_email.get_json()["code"] == "account_not_found"
        assert known.status_code == 202
        code_of(outbox, sent)
        nothing_more_sent(outbox, sent + 1)

    def test_not_found_answers_still_count_against_the_client_budget(self, make_app):
        client = make_app(REVEAL_EXISTING_ACCOUNTS="true", RATE_LIMIT_REGISTER="2/minute").test_client()
        answers = [log_in(client, {**BY_PHONE, "phone": f"055123456{n}"}) for n in range(3)]
        assert [answer.status_code for answer in answers] == [404, 404, 429]
        assert answers[2].get_json()["code"] == "rate_limited"


def test_sign_in_starts_count_against_the_client_budget_whether_or_not_an_account_exists(make_app, outbox):
    client = make_app(RATE_LIMIT_REGISTER="3/minute").test_client()
    register(client, outbox, phone_registration())  # one start

    unknown = log_in(client, {**BY_PHONE, "phone": "0551234568"})
    known = log_in(client, BY_PHONE)
    refused_unknown = log_in(client, {**BY_PHONE, "phone": "0551234569"})

    assert [unknown.status_code, known.status_code] == [202, 202]
    assert (refused_unknown.status_code, refused_unknown.get_json()["code"]) == (429, "rate_limited")
    assert log_in(client, BY_PHONE).status_code == 429


def test_the_code_message_follows_the_sign_in_locale(client, outbox):
    register(client, outbox, phone_registration())
    begin_with_code(client, outbox, {**BY_PHONE, "locale": "ar"})
    assert "رمز التحقق" in outbox.messages[-1]


def test_the_same_idempotency_key_replays_the_start_and_sends_one_code(client, outbox):
    register(client, outbox, phone_registration())
    sent = len(outbox.messages)
    headers = {"Idempotency-Key": "login-1"}

    first = log_in(client, BY_PHONE, headers=headers)
    again = log_in(client, BY_PHONE, headers=headers)
    other_body = log_in(client, {**BY_PHONE, "locale": "ar"}, headers=headers)

    assert again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    code_of(outbox, sent)
    nothing_more_sent(outbox, sent + 1)
    assert other_body.get_json()["code"] == "idempotency_conflict"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "verified_by", "Missing data for required field."),
        ({"verified_by": "fax"}, "verified_by", "Must be one of: phone, email."),
        ({"verified_by": "phone", "country_code": "SA"}, "phone", "Required when verified_by is phone."),
        ({"verified_by": "phone", "phone": "0551234567"}, "country_code", "Required when phone is given."),
        ({**BY_PHONE, "phone": "0111234567"}, "phone", "Use a mobile number: the code is sent by SMS."),
        ({**BY_PHONE, "phone": "12"}, "phone", "Not a valid phone number for this country."),
        (
            {**BY_PHONE, "country_key": "+971"},
            "country_key",
            "This dialling code does not belong to the country.",
        ),
        ({**BY_PHONE, "email": "sara@example.com"}, "email", "Not used when verified_by is phone."),
        ({"verified_by": "email"}, "email", "Required when verified_by is email."),
        ({"verified_by": "email", "email": "not-an-email"}, "email", "Not a valid email address."),
        ({**BY_EMAIL, "phone": "0551234567"}, "phone", "Not used when verified_by is email."),
        ({**BY_EMAIL, "locale": "fr"}, "locale", "Must be one of: en, ar."),
        ({**BY_EMAIL, "first_name": "Omar"}, "first_name", "Unknown field."),
        ({**BY_EMAIL, "email": 7}, "email", "Not a valid string."),
    ],
)
def test_invalid_sign_in_fields_are_reported_by_name(client, body, field, message):
    response = log_in(client, body)
    assert response.status_code == 422
    assert response.get_json()["code"] == "validation_error"
    assert message in response.get_json()["errors"][field]


def test_field_errors_come_in_arabic_too(client):
    response = log_in(client, {"verified_by": "phone", "locale": "ar", "country_code": "SA"})
    assert response.get_json()["errors"]["phone"] == ["مطلوب عند التحقق عبر الجوال."]


def test_a_sign_in_answers_without_waiting_for_the_channel(make_app, gateway, outbox):
    client = make_app(SMS_CHANNEL="http", SMS_HTTP_URL=gateway.url, CHANNEL_TIMEOUT="1").test_client()
    register_by_gateway(client, gateway)  # its code sent while the gateway answers
    gateway.hang = True  # from now on it holds every message without answering

    known = log_in(client, BY_PHONE)

    # Had the answer waited for the gateway, it would be 503 channel_unavailable after 1 s:
    # a sign-in for no account, which sends nothing, would answer sooner and differently.
    assert known.status_code == 202
    deadline = time.monotonic() + 5
    while len(gateway.requests) < 2:
        assert time.monotonic() < deadline, "the sign-in code never reached the gateway"
        time.sleep(0.01)
    assert gateway.requests[1].json()["to"] == PHONE_NUMBER


def test_a_sign_in_code_the_channel_refuses_still_counts_as_one_for_no_account_does(make_app, gateway):
    client = make_app(
        SMS_CHANNEL="http", SMS_HTTP_URL=gateway.url, MAX_CODES_PER_DESTINATION="2"
    ).test_client()
    register_by_gateway(client, gateway)  # the destination's first code of the hour
    gateway.status = 500

    refused = log_in(client, BY_PHONE)  # its second, which the gateway refuses
    deadline = time.monotonic() + 5
    while len(gateway.requests) < 2:
        assert time.monotonic() < deadline, "the sign-in code never reached the gateway"
        time.sleep(0.01)
    time.sleep(0.2)  # past the refusal, where a budget given back would show
    third = log_in(client, BY_PHONE)
    nobody = {**BY_PHONE, "phone": "0551234568"}
    for_no_account = [log_in(client, nobody).status_code for _ in range(3)]

    assert refused.status_code == 202
    # Had the refused code been given back, an account would answer 202 where no account
    # answers 429: the limits would tell who is a customer.
    assert (third.status_code, third.get_json()["code"]) == (429, "rate_limited")
    assert for_no_account == [202, 202, 429]
