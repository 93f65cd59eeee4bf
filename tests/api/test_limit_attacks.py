"""The limits under attack (issue #13, items 1, 2a, 2c, 6 and 12a): what an attacker cannot do with
them any more, tried as an attacker would, with many client IPs behind a trusted proxy."""

from collections import Counter

import pytest
import requests

from tests.api.test_concurrency import all_at_once, taking_turns
from tests.api.test_concurrency import start as start_registration
from tests.api.test_limits import refused
from tests.support import PHONE, email_registration, phone_registration, start, wrong

BY_PHONE = {"verified_by": "phone", "phone": "0551234567", "country_code": "SA"}


def from_ip(address: str) -> dict[str, str]:
    """Headers of a request that the trusted proxy (TRUSTED_PROXIES=1) saw come from `address`."""
    return {"X-Forwarded-For": address}


def nobodys_phone(number: int) -> str:
    """A Saudi mobile number with no account, on a number prefix of its own for each `number` (< 1000)."""
    return f"050{number:03d}0000"


def register(client, outbox, payload: dict, **kwargs) -> None:
    registration = start(client, payload, **kwargs)
    response = client.post(
        f"/auth/register/{registration['registration_id']}/verify",
        json={"code": outbox.last_code()},
        **kwargs,
    )
    assert response.status_code == 201, response.get_json()


def log_in(client, outbox, body: dict, **kwargs) -> tuple[str, str]:
    """A sign-in's id and its code (which leaves in the background)."""
    sent = len(outbox.messages)
    response = client.post("/auth/login", json=body, **kwargs)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["login_id"], outbox.code_after(sent)


class TestSignInsForNobodySpendNoSmsBudget:
    @pytest.mark.server
    def test_silent_sign_ins_over_many_prefixes_never_refuse_a_real_customer_of_that_country(
        self, start_server
    ):
        server = start_server(
            SMS_COUNTRY_HOURLY_LIMIT="5",
            SMS_PREFIX_HOURLY_LIMIT="1",
            SMS_GLOBAL_HOURLY_LIMIT="5",
            RATE_LIMIT_REGISTER="1000/minute",
        )
        for number in range(30):
            body = {**BY_PHONE, "phone": nobodys_phone(number)}
            answer = requests.post(f"{server.url}/auth/login", json=body, timeout=10)
            assert answer.status_code == 202, answer.text

        registered = requests.post(f"{server.url}/auth/register", json=phone_registration(), timeout=10)

        assert registered.status_code == 202, registered.text

    def test_a_spent_budget_refuses_a_sign_in_for_nobody_as_it_refuses_a_customer(self, make_app):
        client = make_app(SMS_COUNTRY_HOURLY_LIMIT="2").test_client()
        start(client, phone_registration(phone="0551230001"))
        start(client, phone_registration(phone="0561230001"))

        refused(client.post("/auth/login", json={**BY_PHONE, "phone": "0571230001"}))

    def test_resends_of_a_sign_in_for_nobody_spend_no_sms_budget(self, make_app):
        client = make_app(SMS_PREFIX_HOURLY_LIMIT="1", MAX_RESENDS="3").test_client()
        login = client.post("/auth/login", json=BY_PHONE).get_json()
        for _ in range(3):
            assert client.post(f"/auth/login/{login['login_id']}/resend", json={}).status_code == 202

        assert client.post("/auth/register", json=phone_registration(phone="0551234999")).status_code == 202

    def test_with_revealed_accounts_a_sign_in_for_nobody_spends_no_sms_budget(self, make_app):
        client = make_app(REVEAL_EXISTING_ACCOUNTS="true", SMS_PREFIX_HOURLY_LIMIT="1").test_client()
        for _ in range(3):
            assert client.post("/auth/login", json=BY_PHONE).status_code == 404

        assert client.post("/auth/register", json=phone_registration()).status_code == 202


class TestClientNetworks:
    def test_the_addresses_of_one_ipv6_64_share_one_budget_of_starts(self, make_app):
        client = make_app(RATE_LIMIT_REGISTER="2/minute", TRUSTED_PROXIES="1").test_client()
        for number, host in enumerate(("2001:db8:1:2::1", "2001:db8:1:2:ffff::9")):
            start(client, email_registration(email=f"a{number}@example.com"), headers=from_ip(host))

        same_64 = client.post(
            "/auth/register",
            json=email_registration(email="a3@example.com"),
            headers=from_ip("2001:db8:1:2::7"),
        )
        other_64 = client.post(
            "/auth/register",
            json=email_registration(email="a4@example.com"),
            headers=from_ip("2001:db8:1:3::1"),
        )

        refused(same_64)
        assert other_64.status_code == 202


class TestTheWholeServicesSmsBudget:
    def test_sms_of_every_country_together_have_an_hourly_budget(self, make_app):
        client = make_app(SMS_GLOBAL_HOURLY_LIMIT="2").test_client()
        start(client, phone_registration(phone="0551230001"))
        start(client, phone_registration(phone="0561230001"))
        emirati = phone_registration(phone="0501234567", country_code="AE", country_key="971")

        refused(client.post("/auth/register", json=emirati))

        assert client.post("/auth/register", json=email_registration()).status_code == 202, "email is no SMS"


class TestLockOut:
    def test_sign_ins_from_one_network_cannot_lock_a_customer_out_of_signing_in(self, make_app, outbox):
        client = make_app(TRUSTED_PROXIES="1", MAX_CODES_PER_DESTINATION_PER_NETWORK="3").test_client()
        register(client, outbox, phone_registration(), headers=from_ip("198.51.100.20"))
        attacker = from_ip("203.0.113.66")
        for _ in range(3):
            assert client.post("/auth/login", json=BY_PHONE, headers=attacker).status_code == 202
        refused(client.post("/auth/login", json=BY_PHONE, headers=attacker))

        customer = from_ip("198.51.100.20")
        login_id, code = log_in(client, outbox, BY_PHONE, headers=customer)
        signed_in = client.post(f"/auth/login/{login_id}/verify", json={"code": code}, headers=customer)

        assert signed_in.status_code == 200, signed_in.get_json()

    def test_a_refusal_is_logged_with_the_masked_destination_and_the_clients_network_not_its_address(
        self, make_app, caplog
    ):
        client = make_app(TRUSTED_PROXIES="1", MAX_CODES_PER_DESTINATION="1").test_client()
        start(client, phone_registration(), headers=from_ip("203.0.113.66"))

        refused(client.post("/auth/register", json=phone_registration(), headers=from_ip("203.0.113.66")))

        assert "a code to +966 55••••567 from 203.0.113.0/24 refused by the" in caplog.text
        assert "203.0.113.66" not in caplog.text
        assert PHONE not in caplog.text

    def test_a_destination_has_a_ceiling_over_every_network(self, make_app):
        client = make_app(
            TRUSTED_PROXIES="1", MAX_CODES_PER_DESTINATION_PER_NETWORK="2", MAX_CODES_PER_DESTINATION="3"
        ).test_client()
        for host in ("203.0.113.1", "203.0.113.1", "203.0.113.2"):
            start(client, phone_registration(), headers=from_ip(host))

        refused(client.post("/auth/register", json=phone_registration(), headers=from_ip("203.0.113.3")))

    def test_wrong_codes_from_one_network_leave_the_customer_theirs(self, make_app, outbox):
        client = make_app(TRUSTED_PROXIES="1", MAX_FAILED_CODES_PER_NETWORK="2").test_client()
        register(client, outbox, phone_registration(), headers=from_ip("198.51.100.20"))
        attacker, customer = from_ip("203.0.113.66"), from_ip("198.51.100.20")
        login_id, code = log_in(client, outbox, BY_PHONE, headers=customer)
        url = f"/auth/login/{login_id}/verify"
        for _ in range(2):
            assert client.post(url, json={"code": wrong(code)}, headers=attacker).status_code == 400

        refused(client.post(url, json={"code": code}, headers=attacker))
        assert client.post(url, json={"code": code}, headers=customer).status_code == 200


class TestDailyFailureBudget:
    def test_wrong_codes_across_registrations_and_sign_ins_spend_one_budget_per_identity(
        self, make_app, outbox
    ):
        """Once the identity's budget is spent, the networks that failed it are refused for the day,
        wherever they type (registration, sign-in, finalisation); a network that has not failed it is not."""
        client = make_app(MAX_FAILED_CODES_PER_DAY="3", TRUSTED_PROXIES="1").test_client()
        guesser, early_guesser, customer = (
            from_ip(ip) for ip in ("203.0.113.66", "198.51.100.9", "192.0.2.7")
        )
        register(client, outbox, email_registration())
        by_email = {"verified_by": "email", "email": "omar@example.com"}
        login_id, code = log_in(client, outbox, by_email, headers=customer)
        login_url = f"/auth/login/{login_id}/verify"
        assert client.post(login_url, json={"code": wrong(code)}, headers=early_guesser).status_code == 400
        registration = start(client, email_registration(first_name="Other"), headers=guesser)
        for _ in range(2):
            guess = {"code": wrong(outbox.last_code())}
            url = f"/auth/register/{registration['registration_id']}/verify"
            assert client.post(url, json=guess, headers=guesser).status_code == 400

        retry_after = refused(client.post(login_url, json={"code": code}, headers=guesser))

        assert retry_after > 3600, "the budget is a day's"
        assert client.get(f"/auth/login/{login_id}").get_json()["attempts_left"] == 4, "no code was checked"
        finalisation = {**email_registration(first_name="Other"), "code": outbox.last_code()}
        refused(client.post("/auth/register", json=finalisation, headers=guesser))
        assert client.post(login_url, json={"code": wrong(code)}, headers=early_guesser).status_code == 400
        refused(client.post(login_url, json={"code": code}, headers=early_guesser))
        assert client.post(login_url, json={"code": code}, headers=customer).status_code == 200, (
            "not locked out"
        )

    @pytest.mark.server
    def test_concurrent_wrong_codes_each_count_once_against_the_budget(self, start_server):
        server = start_server(
            MAX_FAILED_CODES_PER_DAY="11", MAX_FAILED_CODES_PER_NETWORK="100", RATE_LIMIT_VERIFY="1000/minute"
        )
        first, second, third = (
            start_registration(server, phone_registration(first_name=name)) for name in ("A", "B", "C")
        )
        guesses = [(f"{server.url}/auth/register/{id_}/verify", wrong(code)) for id_, code in (first, second)]

        answers = all_at_once(40, taking_turns(guesses * 20))

        assert Counter(answer.json()["code"] for answer in answers) == {
            "invalid_code": 8,
            "too_many_attempts": 32,
        }, "two registrations' five attempts, and nothing refused before the budget is spent"
        url, code = f"{server.url}/auth/register/{third[0]}/verify", third[1]
        the_eleventh = requests.post(url, json={"code": wrong(code)}, timeout=10)
        assert the_eleventh.status_code == 400, "the ten wrong codes counted once each, the locked ones not"
        assert requests.post(url, json={"code": code}, timeout=10).status_code == 429


class TestGuessesPerClient:
    def test_code_checks_from_one_client_are_limited_wherever_they_are_typed(self, make_app, outbox):
        client = make_app(RATE_LIMIT_VERIFY="3/minute", TRUSTED_PROXIES="1").test_client()
        attacker, customer = from_ip("203.0.113.66"), from_ip("198.51.100.20")
        registration = start(client, phone_registration(), headers=customer)
        code = outbox.last_code()
        url = f"/auth/register/{registration['registration_id']}/verify"
        assert client.post(url, json={"code": wrong(code)}, headers=attacker).status_code == 400
        finalisation = {**phone_registration(), "code": wrong(code)}
        assert client.post("/auth/register", json=finalisation, headers=attacker).status_code == 400
        login = client.post("/auth/login", json=BY_PHONE, headers=attacker).get_json()
        assert (
            client.post(
                f"/auth/login/{login['login_id']}/verify", json={"code": code}, headers=attacker
            ).status_code
            == 400
        )

        refused(client.post(url, json={"code": code}, headers=attacker))

        assert client.post(url, json={"code": code}, headers=customer).status_code == 201


def test_no_redis_key_names_a_phones_digits(make_app):
    app = make_app(RESEND_COOLDOWN="60")
    client = app.test_client()
    start(client, phone_registration())
    client.post("/auth/login", json={**BY_PHONE, "phone": "0559876543"})

    names = list(app.extensions["registrar"].redis.scan_iter("*"))

    assert any(name.startswith("{rl}:prefix:") for name in names)
    digits = ("551234", "559876", PHONE[1:8])
    assert not [name for name in names if any(run in name for run in digits)]
