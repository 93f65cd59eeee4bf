"""Registering a customer end to end: start, verify, resend, status (API.md §1)."""

import time

import pytest

from tests.support import MASKED_PHONE, PHONE, email_registration, phone_registration, start, verify, wrong


def test_a_customer_registers_by_phone_and_gets_an_account_and_tokens(client, outbox):
    response = client.post("/auth/register", json=phone_registration())

    assert response.status_code == 202
    challenge = response.get_json()
    assert challenge["registration_id"].startswith("reg_")
    assert response.headers["Location"] == f"/auth/register/{challenge['registration_id']}"
    assert challenge == {
        "registration_id": challenge["registration_id"],
        "status": "code_sent",
        "verified_by": "phone",
        "destination": MASKED_PHONE,
        "code_length": 6,
        "expires_in": 300,
        "resend_in": 0,  # the test environment sets RESEND_COOLDOWN=0
        "attempts_left": 5,
        "resends_left": 3,
    }
    assert PHONE not in response.get_data(as_text=True)

    verified = verify(client, challenge["registration_id"], outbox.last_code())

    assert verified.status_code == 201
    body = verified.get_json()
    assert body["customer"]["id"].startswith("cus_")
    assert body["customer"] | {"id": None, "created_at": None} == {
        "id": None,
        "first_name": "Sara",
        "last_name": "Al-Qahtani",
        "email": None,
        "phone": PHONE,
        "country_code": "SA",
        "verified_by": "phone",
        "phone_verified": True,
        "email_verified": False,
        "locale": "en",
        "created_at": None,
    }
    assert body["customer"]["created_at"].endswith("Z")
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"]
    me = client.get("/customers/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.get_json() == body["customer"]


def test_a_customer_registers_by_email(client, outbox):
    challenge = start(client, email_registration(email="Omar.Saleh@Example.COM", locale="ar"))
    assert challenge["verified_by"] == "email"
    assert challenge["destination"] == "O••••h@example.com"

    body = verify(client, challenge["registration_id"], outbox.last_code()).get_json()

    assert body["customer"]["email"] == "Omar.Saleh@example.com"
    assert body["customer"]["email_verified"] is True
    assert body["customer"]["phone_verified"] is False
    assert body["customer"]["locale"] == "ar"
    assert "رمز التحقق" in outbox.messages[-1]


@pytest.mark.parametrize("typed", ["0551234567", "551234567", "+966551234567", "055 123 4567", "٠٥٥١٢٣٤٥٦٧"])
def test_national_and_international_phone_forms_are_stored_as_e164(client, outbox, typed):
    challenge = start(client, phone_registration(phone=typed))
    body = verify(client, challenge["registration_id"], outbox.last_code()).get_json()
    assert body["customer"]["phone"] == PHONE


@pytest.mark.parametrize("country_key", ["966", "+966", 966])
def test_a_matching_dialling_code_is_accepted_in_any_form(client, country_key):
    assert client.post("/auth/register", json=phone_registration(country_key=country_key)).status_code == 202


def field_errors(response) -> dict:
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["code"] == "validation_error"
    return body["errors"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (phone_registration(country_key="+971"), "country_key"),
        (phone_registration(phone="0112345678"), "phone"),  # a Riyadh landline cannot get an SMS
        (phone_registration(phone="12345"), "phone"),
        (phone_registration(phone="+971501234567"), "phone"),  # a UAE number is no Saudi number
        (phone_registration(phone=None), "phone"),
        (phone_registration(country_code=None), "country_code"),
        (phone_registration(country_code="XX"), "country_code"),
        (phone_registration(first_name="   "), "first_name"),
        (phone_registration(first_name="S" * 65), "first_name"),
        (phone_registration(first_name="Sa\u0000ra"), "first_name"),
        (phone_registration(first_name="Sa\u202era"), "first_name"),
        (phone_registration(last_name="x\nDROP"), "last_name"),
        (phone_registration(verified_by="carrier-pigeon"), "verified_by"),
        (phone_registration(locale="fr"), "locale"),
        (email_registration(email=None), "email"),
        (email_registration(email="not-an-email"), "email"),
        (email_registration(email="a@b"), "email"),
        (phone_registration(email="broken@"), "email"),
        (phone_registration(first_name=42), "first_name"),
    ],
)
def test_invalid_fields_are_reported_by_name(client, payload, field):
    errors = field_errors(client.post("/auth/register", json=payload))
    assert field in errors
    assert all(isinstance(message, str) for message in errors[field])


def test_missing_required_fields_are_all_reported_at_once(client):
    errors = field_errors(client.post("/auth/register", json={}))
    assert set(errors) == {"first_name", "verified_by"}

    errors = field_errors(client.post("/auth/register", json={"verified_by": "phone", "phone": "0551234567"}))
    assert set(errors) == {"first_name", "country_code"}


def test_unknown_fields_are_refused_by_name(client):
    errors = field_errors(client.post("/auth/register", json=phone_registration(is_admin=True)))
    assert set(errors) == {"is_admin"}


def test_a_landline_is_fine_when_it_is_not_the_channel(client, outbox):
    challenge = start(client, email_registration(phone="0112345678", country_code="SA"))
    body = verify(client, challenge["registration_id"], outbox.last_code()).get_json()
    assert body["customer"]["phone"] == "+966112345678"
    assert body["customer"]["phone_verified"] is False


def test_sms_is_refused_for_countries_outside_the_allowed_list(make_app):
    client = make_app(SMS_ALLOWED_COUNTRIES="AE,KW").test_client()
    errors = field_errors(client.post("/auth/register", json=phone_registration()))
    assert set(errors) == {"country_code"}
    assert (
        client.post(
            "/auth/register", json=email_registration(phone="0551234567", country_code="SA")
        ).status_code
        == 202
    )


def test_names_are_trimmed_and_an_empty_last_name_becomes_null(client, outbox):
    challenge = start(client, phone_registration(first_name="  سارة  ", last_name="  "))
    customer = verify(client, challenge["registration_id"], outbox.last_code()).get_json()["customer"]
    assert customer["first_name"] == "سارة"
    assert customer["last_name"] is None


def test_errors_follow_the_body_locale_then_accept_language(client):
    in_body = client.post("/auth/register", json={"locale": "ar"}).get_json()
    assert in_body["message"] == "بعض الحقول غير صالحة."
    assert in_body["errors"]["first_name"] == ["هذا الحقل مطلوب."]

    by_header = client.post("/auth/register", json={}, headers={"Accept-Language": "ar-SA,ar;q=0.9,en;q=0.5"})
    assert by_header.get_json()["errors"]["verified_by"] == ["هذا الحقل مطلوب."]

    default = client.post("/auth/register", json={}).get_json()
    assert default["errors"]["verified_by"] == ["Missing data for required field."]


def test_the_default_locale_applies_when_the_request_names_none(make_app, outbox):
    client = make_app(DEFAULT_LOCALE="ar").test_client()
    challenge = start(client, phone_registration())
    assert "رمز التحقق" in outbox.messages[-1]
    body = verify(client, challenge["registration_id"], outbox.last_code()).get_json()
    assert body["customer"]["locale"] == "ar"


def test_a_wrong_code_costs_an_attempt_and_says_how_many_are_left(client, outbox):
    challenge = start(client, phone_registration())
    code = outbox.last_code()

    first = verify(client, challenge["registration_id"], wrong(code))
    second = verify(client, challenge["registration_id"], wrong(code))

    assert first.status_code == 400
    assert first.get_json() == {
        "code": "invalid_code",
        "message": "That code is not correct.",
        "attempts_left": 4,
    }
    assert second.get_json()["attempts_left"] == 3
    assert client.get(f"/auth/register/{challenge['registration_id']}").get_json()["attempts_left"] == 3
    assert verify(client, challenge["registration_id"], code).status_code == 201


def test_the_last_wrong_attempt_locks_the_registration_for_good(make_app, outbox):
    client = make_app(OTP_MAX_ATTEMPTS="3").test_client()
    challenge = start(client, phone_registration())
    registration_id, code = challenge["registration_id"], outbox.last_code()

    answers = [verify(client, registration_id, wrong(code)) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [400, 400, 429]
    assert answers[-1].get_json()["code"] == "too_many_attempts"
    locked = verify(client, registration_id, code)
    assert locked.status_code == 429
    assert locked.get_json()["code"] == "too_many_attempts"
    resend = client.post(f"/auth/register/{registration_id}/resend", json={})
    assert resend.status_code == 429
    assert resend.get_json()["code"] == "too_many_attempts"
    status = client.get(f"/auth/register/{registration_id}").get_json()
    assert status["status"] == "locked"
    assert status["attempts_left"] == 0


def test_a_new_code_does_not_reset_the_wrong_attempts(make_app, outbox):
    client = make_app(OTP_MAX_ATTEMPTS="3").test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    verify(client, registration_id, wrong(outbox.last_code()))
    verify(client, registration_id, wrong(outbox.last_code()))

    resent = client.post(f"/auth/register/{registration_id}/resend", json={})

    assert resent.status_code == 202
    assert resent.get_json()["attempts_left"] == 1
    last = verify(client, registration_id, wrong(outbox.last_code()))
    assert last.status_code == 429
    assert verify(client, registration_id, outbox.last_code()).status_code == 429


def test_an_expired_code_answers_410_costs_nothing_and_a_new_code_works(make_app, outbox):
    client = make_app(OTP_TTL="1", REGISTRATION_TTL="60").test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    code = outbox.last_code()
    time.sleep(1.1)

    expired = verify(client, registration_id, code)
    also_expired = verify(client, registration_id, wrong(code))

    assert expired.status_code == 410
    assert expired.get_json()["code"] == "code_expired"
    assert also_expired.status_code == 410
    assert client.get(f"/auth/register/{registration_id}").get_json()["attempts_left"] == 5
    assert client.post(f"/auth/register/{registration_id}/resend", json={}).status_code == 202
    assert verify(client, registration_id, outbox.last_code()).status_code == 201


def test_a_lapsed_registration_is_not_found(make_app, outbox):
    client = make_app(OTP_TTL="1", REGISTRATION_TTL="1").test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    time.sleep(1.1)

    for response in (
        verify(client, registration_id, outbox.last_code()),
        client.get(f"/auth/register/{registration_id}"),
        client.post(f"/auth/register/{registration_id}/resend", json={}),
    ):
        assert response.status_code == 404
        assert response.get_json()["code"] == "registration_not_found"


def test_an_unknown_registration_is_not_found(client):
    for response in (
        client.get("/auth/register/reg_nope"),
        verify(client, "reg_nope", "123456"),
        client.post("/auth/register/reg_nope/resend", json={}),
    ):
        assert response.status_code == 404
        assert response.get_json()["code"] == "registration_not_found"


def test_a_resend_makes_the_older_code_invalid(client, outbox):
    registration_id = start(client, phone_registration())["registration_id"]
    old_code = outbox.last_code()

    resent = client.post(f"/auth/register/{registration_id}/resend", json={})
    new_code = outbox.last_code()

    assert resent.status_code == 202
    assert resent.get_json()["resends_left"] == 2
    assert resent.get_json()["attempts_left"] == 5
    assert resent.headers["Location"] == f"/auth/register/{registration_id}"
    if old_code != new_code:
        assert verify(client, registration_id, old_code).status_code == 400
    assert verify(client, registration_id, new_code).status_code == 201


def test_a_resend_within_the_cooldown_says_when_to_retry(make_app, outbox):
    client = make_app(RESEND_COOLDOWN="60").test_client()
    challenge = start(client, phone_registration())
    assert challenge["resend_in"] == 60

    early = client.post(f"/auth/register/{challenge['registration_id']}/resend", json={})

    assert early.status_code == 429
    body = early.get_json()
    assert body["code"] == "resend_too_soon"
    assert 59 <= body["retry_after"] <= 60
    assert early.headers["Retry-After"] == str(body["retry_after"])
    assert len(outbox.messages) == 1
    assert client.get(f"/auth/register/{challenge['registration_id']}").get_json()["resends_left"] == 3


def test_the_cooldown_ends_and_a_resend_goes_through(make_app, outbox):
    client = make_app(RESEND_COOLDOWN="1").test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    time.sleep(1.05)
    resent = client.post(f"/auth/register/{registration_id}/resend", json={})
    assert resent.status_code == 202
    assert resent.get_json()["resend_in"] == 1


def test_resends_run_out_and_the_last_code_stays_valid(make_app, outbox):
    client = make_app(MAX_RESENDS="1").test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    assert client.post(f"/auth/register/{registration_id}/resend", json={}).status_code == 202
    last_code = outbox.last_code()

    refused = client.post(f"/auth/register/{registration_id}/resend", json={})
    refused_again = client.post(f"/auth/register/{registration_id}/resend", json={})

    assert refused.status_code == 429
    assert refused.get_json()["code"] == "too_many_resends"
    assert refused_again.get_json()["code"] == "too_many_resends"
    assert len(outbox.messages) == 2
    assert verify(client, registration_id, last_code).status_code == 201


def test_a_completed_registration_answers_already_completed(client, outbox):
    registration_id = start(client, phone_registration())["registration_id"]
    code = outbox.last_code()
    assert verify(client, registration_id, code).status_code == 201

    again = verify(client, registration_id, code)
    resend = client.post(f"/auth/register/{registration_id}/resend", json={})

    assert again.status_code == 409
    assert again.get_json()["code"] == "already_completed"
    assert resend.status_code == 409
    assert resend.get_json()["code"] == "already_completed"
    status = client.get(f"/auth/register/{registration_id}").get_json()
    assert status["status"] == "completed"
    assert "code_length" not in status


def test_codes_typed_with_arabic_indic_digits_are_accepted(client, outbox):
    registration_id = start(client, phone_registration())["registration_id"]
    arabic = outbox.last_code().translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert verify(client, registration_id, arabic).status_code == 201


@pytest.mark.parametrize("typed", ["12ab56", "", "12345", "1234567", "１２３４５６"])
def test_something_that_is_not_a_code_is_refused_without_costing_an_attempt(client, typed):
    registration_id = start(client, phone_registration())["registration_id"]
    response = verify(client, registration_id, typed)
    assert set(field_errors(response)) == {"code"}
    assert client.get(f"/auth/register/{registration_id}").get_json()["attempts_left"] == 5


def test_the_code_must_be_a_string(client):
    registration_id = start(client, phone_registration())["registration_id"]
    assert set(field_errors(verify(client, registration_id, 123456))) == {"code"}
    assert set(field_errors(client.post(f"/auth/register/{registration_id}/verify", json={}))) == {"code"}


class TestSallaStyleFinalisation:
    """A start body that carries `code` verifies the newest pending registration of its destination."""

    def test_the_same_payload_with_the_code_creates_the_account(self, client, outbox):
        start(client, phone_registration())

        response = client.post("/auth/register", json=phone_registration(code=outbox.last_code()))

        assert response.status_code == 201
        assert response.get_json()["customer"]["phone"] == PHONE

    def test_a_wrong_code_is_answered_as_verify_does(self, client, outbox):
        start(client, phone_registration())
        response = client.post("/auth/register", json=phone_registration(code=wrong(outbox.last_code())))
        assert response.status_code == 400
        assert response.get_json() == {
            "code": "invalid_code",
            "message": "That code is not correct.",
            "attempts_left": 4,
        }

    def test_without_a_pending_registration_it_is_not_found(self, client):
        response = client.post("/auth/register", json=phone_registration(code="123456"))
        assert response.status_code == 404
        assert response.get_json()["code"] == "registration_not_found"

    def test_the_newest_of_two_pending_registrations_is_the_one_verified(self, client, outbox):
        older = start(client, phone_registration(first_name="Older"))
        older_code = outbox.last_code()
        start(client, phone_registration(first_name="Newer"))
        newer_code = outbox.last_code()

        response = client.post("/auth/register", json=phone_registration(first_name="Newer", code=newer_code))

        assert response.get_json()["customer"]["first_name"] == "Newer"
        # The older one can still be verified by id, but the identity is taken now.
        conflict = verify(client, older["registration_id"], older_code)
        assert conflict.status_code == 409
        assert conflict.get_json()["code"] == "already_registered"

    def test_repeating_a_finalisation_that_succeeded_is_already_completed(self, client, outbox):
        start(client, phone_registration())
        code = outbox.last_code()
        assert client.post("/auth/register", json=phone_registration(code=code)).status_code == 201
        again = client.post("/auth/register", json=phone_registration(code=code))
        assert again.status_code == 409
        assert again.get_json()["code"] == "already_completed"
        assert "access_token" not in again.get_json()

    def test_a_competing_start_with_other_details_does_not_come_between_a_customer_and_their_code(
        self, client, outbox
    ):
        """Someone who knows the customer's phone starts after them, with other names: the customer's
        finalisation still verifies the customer's own registration."""
        start(client, phone_registration())
        customers_code = outbox.last_code()
        start(client, phone_registration(first_name="Mallory", email="m@evil.example"))

        response = client.post("/auth/register", json=phone_registration(code=customers_code))

        assert response.status_code == 201
        assert response.get_json()["customer"]["first_name"] == "Sara"

    def test_a_locked_registration_leaves_an_older_one_of_the_same_details_to_finalise(self, client, outbox):
        older = start(client, phone_registration())
        older_code = outbox.last_code()
        newer = start(client, phone_registration())
        for _ in range(5):
            verify(client, newer["registration_id"], wrong(outbox.last_code()))
        assert client.get(f"/auth/register/{newer['registration_id']}").get_json()["status"] == "locked"

        response = client.post("/auth/register", json=phone_registration(code=older_code))

        assert response.status_code == 201
        assert client.get(f"/auth/register/{older['registration_id']}").get_json()["status"] == "completed"

    def test_other_destinations_do_not_match(self, client, outbox):
        start(client, phone_registration())
        other = phone_registration(phone="0559876543", code=outbox.last_code())
        assert client.post("/auth/register", json=other).status_code == 404

    def test_details_other_than_those_started_with_find_nothing_and_cost_nothing(self, client, outbox):
        """A code proves the phone, not the names someone else may have started it with."""
        mallory = start(client, phone_registration(first_name="Mallory", email="m@evil.example"))
        code_sent_to_owner = outbox.last_code()

        owner = client.post("/auth/register", json=phone_registration(code=code_sent_to_owner))

        assert owner.status_code == 404
        assert owner.get_json()["code"] == "registration_not_found"
        assert client.get(f"/auth/register/{mallory['registration_id']}").get_json()["attempts_left"] == 5
        start(client, phone_registration())
        mine = client.post("/auth/register", json=phone_registration(code=outbox.last_code()))
        assert mine.status_code == 201
        assert mine.get_json()["customer"]["first_name"] == "Sara"
        assert mine.get_json()["customer"]["email"] is None

    def test_the_locale_may_differ_between_start_and_finalisation(self, client, outbox):
        start(client, phone_registration(locale="ar"))
        response = client.post(
            "/auth/register", json=phone_registration(locale="en", code=outbox.last_code())
        )
        assert response.status_code == 201
        assert response.get_json()["customer"]["locale"] == "ar"

    def test_email_destinations_match_whatever_their_case(self, client, outbox):
        start(client, email_registration(email="omar@example.com"))
        response = client.post(
            "/auth/register", json=email_registration(email="OMAR@example.com", code=outbox.last_code())
        )
        assert response.status_code == 201


@pytest.mark.parametrize("other_case", ["émile@example.com", "ÉMILE@EXAMPLE.COM", "Émile@Example.com"])
def test_an_email_that_differs_only_in_the_case_of_accented_letters_is_the_same_identity(
    client, outbox, other_case
):
    first = start(client, email_registration(email="Émile@example.com"))
    assert verify(client, first["registration_id"], outbox.last_code()).status_code == 201

    second = start(client, email_registration(email=other_case, first_name="Someone"))
    conflict = verify(client, second["registration_id"], outbox.last_code())

    assert conflict.status_code == 409
    assert conflict.get_json()["code"] == "already_registered"


class TestExistingAccounts:
    def register(self, client, outbox, payload):
        registration_id = start(client, payload)["registration_id"]
        assert verify(client, registration_id, outbox.last_code()).status_code == 201

    def test_by_default_start_answers_as_for_a_new_identity_and_verify_reveals_it(self, client, outbox):
        self.register(client, outbox, phone_registration())
        messages_before = len(outbox.messages)

        again = client.post("/auth/register", json=phone_registration(first_name="Someone"))

        assert again.status_code == 202
        assert set(again.get_json()) == {
            "registration_id", "status", "verified_by", "destination", "code_length",
            "expires_in", "resend_in", "attempts_left", "resends_left",
        }  # fmt: skip
        assert len(outbox.messages) == messages_before + 1
        registration_id = again.get_json()["registration_id"]
        wrong_answer = verify(client, registration_id, wrong(outbox.last_code()))
        assert wrong_answer.status_code == 400
        conflict = verify(client, registration_id, outbox.last_code())
        assert conflict.status_code == 409
        assert conflict.get_json()["code"] == "already_registered"
        assert client.get(f"/auth/register/{registration_id}").get_json()["status"] == "already_registered"
        for response in (
            verify(client, registration_id, outbox.last_code()),
            client.post(f"/auth/register/{registration_id}/resend", json={}),
        ):
            assert response.status_code == 409
            assert response.get_json()["code"] == "already_registered"

    def test_revealed_when_configured_start_refuses_at_once_and_sends_nothing(self, make_app, outbox):
        client = make_app(REVEAL_EXISTING_ACCOUNTS="true").test_client()
        self.register(client, outbox, email_registration())
        messages_before = len(outbox.messages)

        again = client.post("/auth/register", json=email_registration(email="OMAR@example.com"))

        assert again.status_code == 409
        assert again.get_json()["code"] == "already_registered"
        assert len(outbox.messages) == messages_before

    def test_an_unverified_phone_of_another_account_does_not_block_its_owner(self, client, outbox):
        self.register(client, outbox, email_registration(phone="0551234567", country_code="SA"))

        registration_id = start(client, phone_registration())["registration_id"]
        response = verify(client, registration_id, outbox.last_code())

        assert response.status_code == 201
        assert response.get_json()["customer"]["phone_verified"] is True

    def test_an_unverified_email_of_another_account_does_not_block_its_owner(self, client, outbox):
        self.register(client, outbox, phone_registration(email="Shared@example.com"))

        registration_id = start(client, email_registration(email="shared@example.com"))["registration_id"]
        assert verify(client, registration_id, outbox.last_code()).status_code == 201

    def test_by_default_a_verified_email_of_another_account_is_not_revealed(self, client, outbox):
        self.register(client, outbox, email_registration(email="shared@example.com"))

        registration_id = start(client, phone_registration(email="shared@example.com"))["registration_id"]
        response = verify(client, registration_id, outbox.last_code())

        assert response.status_code == 201
        assert response.get_json()["customer"]["email_verified"] is False

    def test_revealed_a_verified_email_or_phone_of_another_account_is_taken_at_start(self, make_app, outbox):
        client = make_app(REVEAL_EXISTING_ACCOUNTS="true").test_client()
        self.register(client, outbox, email_registration(email="shared@example.com"))
        self.register(client, outbox, phone_registration(phone="0559876543"))
        messages_before = len(outbox.messages)

        email_taken = client.post("/auth/register", json=phone_registration(email="Shared@example.com"))
        phone_taken = client.post(
            "/auth/register",
            json=email_registration(email="new@example.com", phone="0559876543", country_code="SA"),
        )

        assert email_taken.status_code == 409
        assert email_taken.get_json()["code"] == "email_taken"
        assert phone_taken.status_code == 409
        assert phone_taken.get_json()["code"] == "phone_taken"
        assert len(outbox.messages) == messages_before


class TestSomethingThatIsNotACode:
    """Typing letters or too few digits costs nothing, but the registration's state comes first."""

    def test_on_a_locked_registration_it_is_too_many_attempts(self, make_app, outbox):
        client = make_app(OTP_MAX_ATTEMPTS="1").test_client()
        registration_id = start(client, phone_registration())["registration_id"]
        verify(client, registration_id, wrong(outbox.last_code()))
        response = verify(client, registration_id, "abc")
        assert response.status_code == 429
        assert response.get_json()["code"] == "too_many_attempts"

    def test_on_an_expired_code_it_is_code_expired(self, make_app, outbox):
        client = make_app(OTP_TTL="1", REGISTRATION_TTL="60").test_client()
        registration_id = start(client, phone_registration())["registration_id"]
        time.sleep(1.1)
        response = verify(client, registration_id, "12")
        assert response.status_code == 410
        assert response.get_json()["code"] == "code_expired"

    def test_on_a_completed_or_unknown_registration_it_says_so(self, client, outbox):
        registration_id = start(client, phone_registration())["registration_id"]
        assert verify(client, registration_id, outbox.last_code()).status_code == 201
        assert verify(client, registration_id, "x").get_json()["code"] == "already_completed"
        assert verify(client, "reg_unknown", "x").get_json()["code"] == "registration_not_found"


def test_a_dialling_code_needs_its_country(client):
    payload = email_registration(country_key="+966")
    assert set(field_errors(client.post("/auth/register", json=payload))) == {"country_code"}


def test_an_absurdly_long_dialling_code_is_a_validation_error(client):
    payload = phone_registration(country_key="9" * 5000)
    assert set(field_errors(client.post("/auth/register", json=payload))) == {"country_key"}


def test_the_account_and_its_tokens_are_returned_even_if_redis_fails_after_the_commit(app, client, outbox):
    from redis.exceptions import ConnectionError as RedisConnectionError

    registration_id = start(client, phone_registration())["registration_id"]
    store = app.extensions["registrar"].registration.codes.store

    def redis_gone(*args, **kwargs):
        raise RedisConnectionError("Redis went away")

    store.finish = redis_gone
    response = verify(client, registration_id, outbox.last_code())

    assert response.status_code == 201
    me = client.get(
        "/customers/me", headers={"Authorization": f"Bearer {response.get_json()['access_token']}"}
    )
    assert me.status_code == 200
