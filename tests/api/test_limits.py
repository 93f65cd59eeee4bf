"""Limits and budgets (API.md §6, issue #5): each trips with 429 rate_limited and Retry-After,
and lets go again when its window ends."""

import time

from tests.support import email_registration, phone_registration, start


def refused(response, code="rate_limited") -> int:
    assert response.status_code == 429, response.get_json()
    body = response.get_json()
    assert body["code"] == code
    assert body["retry_after"] >= 1
    assert response.headers["Retry-After"] == str(body["retry_after"])
    return body["retry_after"]


def an_hour_later(app) -> None:
    """Move the limits' clock on by an hour, so hourly windows start afresh."""
    limits = app.extensions["registrar"].registration.codes.limits
    limits.clock = lambda: time.time() + 3600


def phone(number: int) -> str:
    return f"055123{number:04d}"


class TestStartsPerClient:
    def test_starts_per_client_ip_trip_and_reset(self, make_app):
        app = make_app(RATE_LIMIT_REGISTER="2 per 2 seconds")
        client = app.test_client()
        for number in (1, 2):
            start(client, phone_registration(phone=phone(number)))

        retry_after = refused(client.post("/auth/register", json=phone_registration(phone=phone(3))))

        assert retry_after <= 2
        kept = list(app.extensions["registrar"].redis.scan_iter("vf:*"))
        assert len(kept) == 2, "the refused start keeps no registration"
        time.sleep(2.1)
        assert client.post("/auth/register", json=phone_registration(phone=phone(3))).status_code == 202

    def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(self, make_app):
        client = make_app(RATE_LIMIT_REGISTER="1/minute", TRUSTED_PROXIES="1").test_client()
        first = {"X-Forwarded-For": "203.0.113.5"}
        second = {"X-Forwarded-For": "198.51.100.7, 203.0.113.6"}  # the nearest proxy saw .6

        start(client, phone_registration(phone=phone(1)), headers=first)
        start(client, phone_registration(phone=phone(2)), headers=second)

        refused(client.post("/auth/register", json=phone_registration(phone=phone(3)), headers=first))

    def test_without_trusted_proxies_forwarded_headers_are_ignored(self, make_app):
        client = make_app(RATE_LIMIT_REGISTER="1/minute").test_client()
        start(client, phone_registration(phone=phone(1)), headers={"X-Forwarded-For": "203.0.113.5"})
        response = client.post(
            "/auth/register",
            json=phone_registration(phone=phone(2)),
            headers={"X-Forwarded-For": "203.0.113.99", "X-Real-IP": "203.0.113.98"},
        )
        refused(response)

    def test_several_limits_apply_together(self, make_app):
        client = make_app(RATE_LIMIT_REGISTER="5/hour; 1 per 2 seconds").test_client()
        start(client, phone_registration(phone=phone(1)))
        refused(client.post("/auth/register", json=phone_registration(phone=phone(2))))


class TestCodesPerDestination:
    def test_a_destination_gets_no_two_codes_within_the_cooldown_whichever_registration_asks(self, make_app):
        client = make_app(RESEND_COOLDOWN="2").test_client()
        first = start(client, phone_registration())

        retry_after = refused(client.post("/auth/register", json=phone_registration(first_name="Again")))
        too_soon = client.post(f"/auth/register/{first['registration_id']}/resend", json={})

        assert retry_after <= 2
        refused(too_soon, code="resend_too_soon")
        assert client.post("/auth/register", json=phone_registration(phone="0559876543")).status_code == 202
        time.sleep(2.1)
        assert client.post("/auth/register", json=phone_registration(first_name="Again")).status_code == 202

    def test_at_most_so_many_codes_an_hour_reach_one_destination(self, make_app, outbox):
        app = make_app(MAX_CODES_PER_DESTINATION="2")
        client = app.test_client()
        registration_id = start(client, email_registration())["registration_id"]
        assert client.post(f"/auth/register/{registration_id}/resend", json={}).status_code == 202

        refused(client.post(f"/auth/register/{registration_id}/resend", json={}))
        refused(client.post("/auth/register", json=email_registration(first_name="Again")))
        assert client.get(f"/auth/register/{registration_id}").get_json()["resends_left"] == 2
        assert len(outbox.messages) == 2
        assert (
            client.post("/auth/register", json=email_registration(email="other@example.com")).status_code
            == 202
        )

        an_hour_later(app)
        assert client.post(f"/auth/register/{registration_id}/resend", json={}).status_code == 202


class TestSmsBudgets:
    def test_a_number_prefix_has_an_hourly_budget(self, make_app):
        app = make_app(SMS_PREFIX_HOURLY_LIMIT="2")
        client = app.test_client()
        for number in (1, 2):
            start(client, phone_registration(phone=phone(number)))

        refused(client.post("/auth/register", json=phone_registration(phone=phone(3))))

        assert client.post("/auth/register", json=phone_registration(phone="0551240001")).status_code == 202
        assert client.post("/auth/register", json=email_registration()).status_code == 202, "email is not SMS"
        an_hour_later(app)
        assert client.post("/auth/register", json=phone_registration(phone=phone(3))).status_code == 202

    def test_a_country_has_an_hourly_budget(self, make_app):
        client = make_app(SMS_COUNTRY_HOURLY_LIMIT="2").test_client()
        start(client, phone_registration(phone="0551230001"))
        start(client, phone_registration(phone="0561230001"))

        refused(client.post("/auth/register", json=phone_registration(phone="0571230001")))

        emirati = phone_registration(phone="0501234567", country_code="AE", country_key="971")
        assert client.post("/auth/register", json=emirati).status_code == 202

    def test_a_refused_code_takes_from_no_budget(self, make_app):
        client = make_app(SMS_PREFIX_HOURLY_LIMIT="1", SMS_COUNTRY_HOURLY_LIMIT="2").test_client()
        start(client, phone_registration(phone="0551230001"))
        refused(client.post("/auth/register", json=phone_registration(phone="0551230002")))  # the prefix
        # Had the refusal counted against the country, this would be its third code.
        assert client.post("/auth/register", json=phone_registration(phone="0561230001")).status_code == 202


def sms_app(make_app, gateway, **settings):
    return make_app(SMS_CHANNEL="http", SMS_HTTP_URL=gateway.url, CHANNEL_TIMEOUT="1", **settings)


def test_a_first_code_that_could_not_be_sent_costs_no_budget_and_starts_no_cooldown(make_app, gateway):
    client = sms_app(make_app, gateway, MAX_CODES_PER_DESTINATION="1", RESEND_COOLDOWN="60").test_client()
    gateway.status = 500
    assert client.post("/auth/register", json=phone_registration()).status_code == 503

    gateway.status = 200
    assert client.post("/auth/register", json=phone_registration()).status_code == 202


def test_a_new_code_that_could_not_be_sent_costs_no_budget_and_starts_no_cooldown(make_app, gateway):
    client = sms_app(make_app, gateway, MAX_CODES_PER_DESTINATION="2", RESEND_COOLDOWN="1").test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    time.sleep(1.05)
    gateway.status = 500
    assert client.post(f"/auth/register/{registration_id}/resend", json={}).status_code == 503

    gateway.status = 200
    assert client.post(f"/auth/register/{registration_id}/resend", json={}).status_code == 202


def test_limits_can_be_switched_off(make_app):
    client = make_app(
        RATE_LIMIT_REGISTER="1/minute", RATE_LIMITS_ENABLED="false", RESEND_COOLDOWN="60"
    ).test_client()
    for _ in range(3):
        assert client.post("/auth/register", json=phone_registration()).status_code == 202
