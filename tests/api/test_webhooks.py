"""Webhooks (API.md §3): the admin API, and every event reaching a real, verifying receiver."""

import base64
import secrets
import socket
import time
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from app.codes import Failure, FailureReason
from app.models import utcnow, webhook_endpoints, webhook_events
from app.webhooks.worker import DeliveryWorker, Pacing
from tests.servers import Gateway, WebhookReceiver
from tests.support import MASKED_PHONE, email_registration, phone_registration, start, verify, wrong

ADMIN = {"Authorization": "Bearer test-admin-key-0123456789"}


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


@pytest.fixture
def make_admin_app(make_app):
    def make(**settings):
        return make_app(
            ADMIN_API_KEY="test-admin-key-0123456789", WEBHOOK_ALLOW_PRIVATE_URLS="true", **settings
        )

    return make


def subscribe(client, receiver, events=("onRegistered", "onRegistrationFailed")) -> dict:
    response = client.post("/webhooks", json={"url": receiver.url, "events": list(events)}, headers=ADMIN)
    assert response.status_code == 201, response.get_json()
    receiver.secret = response.get_json()["secret"]
    return response.get_json()


def worker_of(app, allow_private_urls: bool = True, **pacing) -> DeliveryWorker:
    registrar = app.extensions["registrar"]
    return DeliveryWorker(
        registrar.engine,
        registrar.registration.codes.store,
        registrar.registration.outbox,
        schedule=app.config["WEBHOOK_RETRY_SCHEDULE"],
        allow_private_urls=allow_private_urls,
        pacing=Pacing(**{"expiry_grace": 0, "sweep_every": 0, **pacing}),
    )


def run_until_idle(worker: DeliveryWorker, rounds: int = 20) -> None:
    """The worker's own rounds (sweeps included: `sweep_every` is 0 here), each waiting for its
    sends to end and be recorded, until nothing is left."""
    for _ in range(rounds):
        busy = worker.step()
        worker.settle()
        if not busy and not worker.step():
            return


class TestAdminApi:
    @pytest.mark.parametrize(
        "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-admin-key-0123456789"}]
    )
    def test_every_admin_path_needs_the_key(self, make_admin_app, headers):
        client = make_admin_app().test_client()
        for method, path in (
            ("get", "/webhooks"),
            ("post", "/webhooks"),
            ("get", "/webhooks/wh_x"),
            ("delete", "/webhooks/wh_x"),
            ("get", "/webhooks/wh_x/deliveries"),
            ("post", "/webhooks/wh_x/deliveries/dlv_x/redeliver"),
        ):
            response = getattr(client, method)(path, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.get_json()["code"] == "unauthorized"

    def test_without_an_admin_key_configured_the_admin_api_is_off(self, client):
        response = client.get("/webhooks", headers={"Authorization": "Bearer "})
        assert response.status_code == 401
        assert response.get_json()["code"] == "unauthorized"

    def test_an_endpoint_is_created_listed_shown_and_removed(self, make_admin_app, receiver):
        client = make_admin_app().test_client()

        created = client.post(
            "/webhooks",
            json={"url": receiver.url, "events": ["onRegistered"], "description": "CRM"},
            headers=ADMIN,
        )

        assert created.status_code == 201
        endpoint = created.get_json()
        assert endpoint["id"].startswith("wh_")
        assert endpoint["secret"].startswith("whsec_")
        assert endpoint | {"id": None, "secret": None, "created_at": None} == {
            "id": None,
            "url": receiver.url,
            "events": ["onRegistered"],
            "description": "CRM",
            "created_at": None,
            "disabled_at": None,
            "secret": None,
        }
        listed = client.get("/webhooks", headers=ADMIN).get_json()
        assert [item["id"] for item in listed] == [endpoint["id"]]
        assert "secret" not in listed[0]
        shown = client.get(f"/webhooks/{endpoint['id']}", headers=ADMIN).get_json()
        assert "secret" not in shown and shown["url"] == receiver.url
        assert client.delete(f"/webhooks/{endpoint['id']}", headers=ADMIN).status_code == 204
        gone = client.get(f"/webhooks/{endpoint['id']}", headers=ADMIN)
        assert gone.status_code == 404
        assert gone.get_json()["code"] == "not_found"
        assert client.delete(f"/webhooks/{endpoint['id']}", headers=ADMIN).status_code == 404

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:9000/hooks",
            "http://localhost/hooks",
            "http://10.1.2.3/hooks",
            "http://192.168.0.10/hooks",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hooks",
            "http://[fd00:ec2::254]/hooks",
            "ftp://93.184.216.34/hooks",
            "http://user:pass@93.184.216.34/hooks",
        ],
    )
    def test_private_and_odd_urls_are_refused(self, make_app, url):
        client = make_app(ADMIN_API_KEY="test-admin-key-0123456789").test_client()
        response = client.post("/webhooks", json={"url": url, "events": ["onRegistered"]}, headers=ADMIN)
        assert response.status_code == 422
        assert set(response.get_json()["errors"]) == {"url"}

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1\\x.attacker.example/hooks",  # the issue's: two parsers, two hosts
            "http://hooks%2eexample.com/hooks",
            "http://hooks.example.com%00/hooks",
            "http://a..b/hooks",
            "http://under_score.example.com/hooks",
            "http://[fe80::1%25eth0]/hooks",
            "http://2130706433/hooks",
            "http://0x7f.1/hooks",
        ],
    )
    def test_a_host_that_is_not_a_plain_name_or_address_is_refused_even_with_private_urls_allowed(
        self, make_admin_app, url
    ):
        client = make_admin_app().test_client()
        response = client.post("/webhooks", json={"url": url, "events": ["onRegistered"]}, headers=ADMIN)
        assert response.status_code == 422
        assert set(response.get_json()["errors"]) == {"url"}

    def test_an_international_name_is_accepted_in_either_form(self, make_admin_app):
        client = make_admin_app().test_client()
        for url in ("https://bücher.example/hooks", "https://xn--bcher-kva.example/hooks"):
            response = client.post("/webhooks", json={"url": url, "events": ["onRegistered"]}, headers=ADMIN)
            assert response.status_code == 201, url

    def test_a_public_address_is_accepted(self, make_app):
        client = make_app(ADMIN_API_KEY="test-admin-key-0123456789").test_client()
        response = client.post(
            "/webhooks",
            json={"url": "https://93.184.216.34/hooks", "events": ["onRegistered"]},
            headers=ADMIN,
        )
        assert response.status_code == 201

    @pytest.mark.parametrize("events", [[], ["onSomethingElse"], "onRegistered", None])
    def test_events_must_be_a_list_of_known_types(self, make_admin_app, receiver, events):
        client = make_admin_app().test_client()
        response = client.post("/webhooks", json={"url": receiver.url, "events": events}, headers=ADMIN)
        assert response.status_code == 422
        assert "events" in response.get_json()["errors"]

    def test_the_cli_adds_lists_and_removes(self, make_admin_app, receiver):
        app = make_admin_app()
        runner = app.test_cli_runner()

        added = runner.invoke(args=["webhooks", "add", receiver.url, "--event", "onRegistered"])
        assert added.exit_code == 0, added.output
        webhook_id = added.output.split()[0]
        assert webhook_id.startswith("wh_") and "whsec_" in added.output
        listed = runner.invoke(args=["webhooks", "list"])
        assert webhook_id in listed.output and "active" in listed.output
        assert runner.invoke(args=["webhooks", "remove", webhook_id]).exit_code == 0
        assert webhook_id not in runner.invoke(args=["webhooks", "list"]).output
        assert runner.invoke(args=["webhooks", "remove", webhook_id]).exit_code != 0

    def test_the_cli_refuses_a_private_url_like_the_api(self, make_app):
        refused = make_app().test_cli_runner().invoke(args=["webhooks", "add", "http://10.0.0.1/hooks"])
        assert refused.exit_code != 0
        assert "url:" in refused.output


class TestEvents:
    def test_a_registration_is_announced_signed_with_the_customer(self, make_admin_app, receiver, outbox):
        app = make_admin_app()
        client = app.test_client()
        subscribe(client, receiver)
        registration_id = start(client, phone_registration())["registration_id"]
        customer = verify(client, registration_id, outbox.last_code()).get_json()["customer"]

        run_until_idle(worker_of(app))

        [delivery] = receiver.deliveries
        assert delivery.verified
        assert delivery.webhook_id.startswith("evt_")
        assert delivery.body["type"] == "onRegistered"
        assert delivery.body["timestamp"].endswith("Z")
        # `channel` is what delivered the code that verified it (API.md §3).
        assert delivery.body["data"] == {
            "registration_id": registration_id,
            "customer": customer,
            "channel": "sms",
        }

    def test_a_lockout_is_announced_once_with_reason_and_masked_destination(
        self, make_admin_app, receiver, outbox
    ):
        app = make_admin_app(OTP_MAX_ATTEMPTS="1")
        client = app.test_client()
        subscribe(client, receiver)
        registration_id = start(client, phone_registration())["registration_id"]
        assert verify(client, registration_id, wrong(outbox.last_code())).status_code == 429
        assert verify(client, registration_id, outbox.last_code()).status_code == 429

        run_until_idle(worker_of(app))

        [delivery] = receiver.deliveries
        assert delivery.verified
        assert delivery.body["type"] == "onRegistrationFailed"
        assert delivery.body["data"] == {
            "registration_id": registration_id,
            "reason": "too_many_attempts",
            "verified_by": "phone",
            "destination": MASKED_PHONE,
            "country_code": "SA",
        }

    def test_running_out_of_resends_is_announced_once(self, make_admin_app, receiver, outbox):
        app = make_admin_app(MAX_RESENDS="0")
        client = app.test_client()
        subscribe(client, receiver)
        registration_id = start(client, email_registration())["registration_id"]
        for _ in range(3):
            assert client.post(f"/auth/register/{registration_id}/resend", json={}).status_code == 429

        run_until_idle(worker_of(app))

        [delivery] = receiver.deliveries
        assert delivery.body["data"]["reason"] == "too_many_resends"
        assert delivery.body["data"]["verified_by"] == "email"
        assert delivery.body["data"]["destination"] == "o••••r@example.com"
        assert delivery.body["data"]["country_code"] is None

    def test_a_lapsed_registration_is_announced_as_expired_unless_it_completed(
        self, make_admin_app, receiver, outbox
    ):
        app = make_admin_app(OTP_TTL="1", REGISTRATION_TTL="1")
        client = app.test_client()
        subscribe(client, receiver)
        lapsing = start(client, phone_registration())["registration_id"]
        completed = start(client, email_registration())["registration_id"]
        assert verify(client, completed, outbox.last_code()).status_code == 201
        time.sleep(1.2)

        run_until_idle(worker_of(app))

        [failure] = receiver.of_type("onRegistrationFailed")
        assert failure.body["data"] == {
            "registration_id": lapsing,
            "reason": "expired",
            "verified_by": "phone",
            "destination": MASKED_PHONE,
            "country_code": "SA",
        }
        assert [d.body["data"]["registration_id"] for d in receiver.of_type("onRegistered")] == [completed]

    def test_an_unreadable_expiry_notice_holds_up_no_other_announcement(self, make_admin_app, receiver):
        app = make_admin_app(OTP_TTL="1", REGISTRATION_TTL="1")
        client = app.test_client()
        subscribe(client, receiver)
        redis = app.extensions["registrar"].redis
        redis.zadd("expiries", {'{"id":"reg_odd","reason":"a reason of a later version"}': 0})
        lapsing = start(client, phone_registration())["registration_id"]
        time.sleep(1.2)

        run_until_idle(worker_of(app))

        [failure] = receiver.of_type("onRegistrationFailed")
        assert (failure.body["data"]["registration_id"], failure.body["data"]["reason"]) == (
            lapsing,
            "expired",
        )
        assert redis.zcard("expiries") == 0, "the unreadable notice is dropped, not retried for ever"

    def test_a_registration_that_failed_earlier_is_not_also_announced_as_expired(
        self, make_admin_app, receiver, outbox
    ):
        app = make_admin_app(OTP_TTL="1", REGISTRATION_TTL="1", OTP_MAX_ATTEMPTS="1")
        client = app.test_client()
        subscribe(client, receiver)
        registration_id = start(client, phone_registration())["registration_id"]
        verify(client, registration_id, wrong(outbox.last_code()))
        time.sleep(1.2)

        run_until_idle(worker_of(app))

        assert [d.body["data"]["reason"] for d in receiver.deliveries] == ["too_many_attempts"]

    def test_a_first_code_that_cannot_be_delivered_is_announced(self, make_admin_app, receiver):
        gateway = Gateway(status=500)
        try:
            app = make_admin_app(SMS_CHANNEL="http", SMS_HTTP_URL=gateway.url, CHANNEL_TIMEOUT="1")
            client = app.test_client()
            subscribe(client, receiver)
            assert client.post("/auth/register", json=phone_registration()).status_code == 503
        finally:
            gateway.stop()

        run_until_idle(worker_of(app))

        [delivery] = receiver.deliveries
        assert delivery.body["data"]["reason"] == "code_delivery_failed"
        assert delivery.body["data"]["registration_id"].startswith("reg_")

    def test_meeting_an_existing_account_is_announced(self, make_admin_app, receiver, outbox):
        app = make_admin_app()
        client = app.test_client()
        subscribe(client, receiver, events=["onRegistrationFailed"])
        first = start(client, phone_registration())["registration_id"]
        assert verify(client, first, outbox.last_code()).status_code == 201
        second = start(client, phone_registration(first_name="Again"))["registration_id"]
        assert verify(client, second, outbox.last_code()).status_code == 409

        run_until_idle(worker_of(app))

        [delivery] = receiver.deliveries  # onRegistered was not subscribed to
        assert delivery.body["data"]["registration_id"] == second
        assert delivery.body["data"]["reason"] == "already_registered"


class TestDelivery:
    def registered(self, app, receiver, outbox):
        client = app.test_client()
        endpoint = subscribe(client, receiver)
        registration_id = start(client, phone_registration())["registration_id"]
        assert verify(client, registration_id, outbox.last_code()).status_code == 201
        return client, endpoint

    def log(self, client, endpoint):
        return client.get(f"/webhooks/{endpoint['id']}/deliveries", headers=ADMIN).get_json()

    def test_a_receiver_failing_twice_gets_the_same_event_a_third_time(self, make_admin_app, outbox):
        receiver = WebhookReceiver(answers=[500, 503])
        try:
            app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="0,0,0")
            client, endpoint = self.registered(app, receiver, outbox)
            run_until_idle(worker_of(app))
        finally:
            receiver.stop()

        assert len(receiver.deliveries) == 3
        assert len({d.webhook_id for d in receiver.deliveries}) == 1
        assert all(d.verified for d in receiver.deliveries)
        [entry] = self.log(client, endpoint)
        assert entry["status"] == "succeeded"
        assert entry["attempts"] == 3
        assert entry["last_status_code"] == 200
        assert entry["event_type"] == "onRegistered"

    def test_retries_wait_for_the_schedule(self, make_admin_app, outbox):
        receiver = WebhookReceiver(status=500)
        try:
            app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="300")
            client, endpoint = self.registered(app, receiver, outbox)
            run_until_idle(worker_of(app))
        finally:
            receiver.stop()

        assert len(receiver.deliveries) == 1, "the retry is due in about 300 s"
        [entry] = self.log(client, endpoint)
        assert entry["status"] == "pending"
        assert entry["attempts"] == 1
        assert entry["last_status_code"] == 500
        assert entry["next_attempt_at"] is not None

    def test_an_exhausted_schedule_fails_and_can_be_redelivered(self, make_admin_app, outbox):
        receiver = WebhookReceiver(answers=[500, 500])
        try:
            app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="0")
            client, endpoint = self.registered(app, receiver, outbox)
            worker = worker_of(app)
            run_until_idle(worker)
            [failed] = self.log(client, endpoint)
            assert (failed["status"], failed["attempts"], failed["last_status_code"]) == ("failed", 2, 500)

            again = client.post(
                f"/webhooks/{endpoint['id']}/deliveries/{failed['id']}/redeliver", headers=ADMIN
            )
            run_until_idle(worker)
        finally:
            receiver.stop()

        assert again.status_code == 202
        assert again.get_json()["event_id"] == failed["event_id"]
        newest, oldest = self.log(client, endpoint)
        assert newest["id"] == again.get_json()["id"] and newest["status"] == "succeeded"
        assert oldest["id"] == failed["id"] and oldest["status"] == "failed"
        assert len({d.webhook_id for d in receiver.deliveries}) == 1
        unknown = client.post(f"/webhooks/{endpoint['id']}/deliveries/dlv_nope/redeliver", headers=ADMIN)
        assert unknown.status_code == 404

    def test_410_gone_disables_the_endpoint(self, make_admin_app, outbox):
        receiver = WebhookReceiver(status=410)
        try:
            app = make_admin_app()
            client, endpoint = self.registered(app, receiver, outbox)
            run_until_idle(worker_of(app))
            registration_id = start(client, phone_registration(phone="0559876543"))["registration_id"]
            verify(client, registration_id, outbox.last_code())
            run_until_idle(worker_of(app))
        finally:
            receiver.stop()

        assert len(receiver.deliveries) == 1
        assert client.get(f"/webhooks/{endpoint['id']}", headers=ADMIN).get_json()["disabled_at"]
        [entry] = self.log(client, endpoint)
        assert (entry["status"], entry["last_status_code"]) == ("failed", 410)

    def two_rounds(self, app, receiver, outbox) -> tuple[list[dict], float]:
        """Two registrations, each announced in its own round of one worker: the delivery
        log, and the seconds the worker's rounds took."""
        worker = worker_of(app)
        client, endpoint = self.registered(app, receiver, outbox)
        began = time.monotonic()
        run_until_idle(worker)
        took = time.monotonic() - began
        registration_id = start(client, phone_registration(phone="0559876543"))["registration_id"]
        assert verify(client, registration_id, outbox.last_code()).status_code == 201
        began = time.monotonic()
        run_until_idle(worker)
        return self.log(client, endpoint), took + time.monotonic() - began

    def test_consecutive_deliveries_to_an_endpoint_share_one_connection(self, make_admin_app, outbox):
        receiver = WebhookReceiver(keep_alive=True)
        try:
            log, _took = self.two_rounds(make_admin_app(), receiver, outbox)
        finally:
            receiver.stop()

        assert [(entry["status"], entry["last_status_code"]) for entry in log] == [("succeeded", 200)] * 2
        assert len(receiver.deliveries) == 2
        assert receiver.connections == 1, "the answer was read and its connection kept"

    def test_an_endless_answer_is_cut_off_and_its_connection_dropped(self, make_admin_app, outbox):
        receiver = WebhookReceiver(keep_alive=True, endless_answer=True)
        try:
            log, took = self.two_rounds(make_admin_app(), receiver, outbox)
        finally:
            receiver.stop()

        assert took < 5, "64 KiB are read, then the worker moves on (the read timeout is 10 s)"
        assert [(entry["status"], entry["last_status_code"]) for entry in log] == [("succeeded", 200)] * 2
        assert receiver.connections == 2, "a connection with an answer still coming is not reused"

    def test_redirects_are_not_followed(self, make_admin_app, outbox):
        receiver = WebhookReceiver(status=302)
        try:
            app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="0")
            client, endpoint = self.registered(app, receiver, outbox)
            run_until_idle(worker_of(app))
        finally:
            receiver.stop()

        assert len(receiver.deliveries) == 2, "two attempts, and never the redirect's target"
        assert self.log(client, endpoint)[0]["last_status_code"] == 302

    def test_a_private_address_is_refused_at_delivery_too(self, make_admin_app, receiver, outbox):
        app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="0")
        client, endpoint = self.registered(app, receiver, outbox)

        run_until_idle(worker_of(app, allow_private_urls=False))

        assert receiver.deliveries == []
        [entry] = self.log(client, endpoint)
        assert (entry["status"], entry["last_status_code"]) == ("failed", None)

    def test_an_event_goes_to_every_subscribed_endpoint_under_one_id(self, make_admin_app, outbox):
        first, second, other = WebhookReceiver(), WebhookReceiver(), WebhookReceiver()
        try:
            app = make_admin_app()
            client = app.test_client()
            subscribe(client, first)
            subscribe(client, second)
            subscribe(client, other, events=["onRegistrationFailed"])
            registration_id = start(client, phone_registration())["registration_id"]
            verify(client, registration_id, outbox.last_code())
            run_until_idle(worker_of(app))
        finally:
            for receiver in (first, second, other):
                receiver.stop()

        assert len(first.deliveries) == len(second.deliveries) == 1
        assert first.deliveries[0].webhook_id == second.deliveries[0].webhook_id
        assert first.deliveries[0].verified and second.deliveries[0].verified
        assert other.deliveries == []


class TestRobustness:
    def registered(self, app, outbox, receiver, **fields):
        client = app.test_client()
        subscribe(client, receiver)
        registration_id = start(client, phone_registration(**fields))["registration_id"]
        assert verify(client, registration_id, outbox.last_code()).status_code == 201
        return client

    def test_an_arabic_body_verifies(self, make_admin_app, receiver, outbox):
        app = make_admin_app()
        self.registered(app, outbox, receiver, first_name="سارة", last_name="القحطاني")
        run_until_idle(worker_of(app))
        [delivery] = receiver.deliveries
        assert delivery.verified
        assert delivery.body["data"]["customer"]["first_name"] == "سارة"

    def test_one_broken_endpoint_does_not_hold_back_the_others(self, make_admin_app, receiver, outbox):
        app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="0")
        client = app.test_client()
        broken = client.post(
            "/webhooks", json={"url": "http://broken.invalid/x", "events": ["onRegistered"]}, headers=ADMIN
        )
        assert broken.status_code == 201  # private URLs are allowed here, so it is not looked up yet
        self.registered(app, outbox, receiver)

        run_until_idle(worker_of(app))

        assert len(receiver.deliveries) == 1, "delivered once, not again and again"
        [entry] = client.get(f"/webhooks/{broken.get_json()['id']}/deliveries", headers=ADMIN).get_json()
        assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("failed", 2, None)

    def test_deliveries_go_on_while_redis_is_away(self, make_admin_app, receiver, outbox):
        app = make_admin_app()
        self.registered(app, outbox, receiver)
        worker = worker_of(app)
        worker.store = (
            make_admin_app(REDIS_URL="redis://127.0.0.1:1/0").extensions["registrar"].registration.codes.store
        )

        run_until_idle(worker)

        assert len(receiver.deliveries) == 1

    def test_a_receiver_that_does_not_answer_is_given_up_on_in_bounded_time(self, make_admin_app, outbox):
        silent = WebhookReceiver(delay=30)
        try:
            app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="300")
            client = self.registered(app, outbox, silent)
            began = time.monotonic()
            worker = worker_of(app, attempt_deadline=1)
            worker.step()
            worker.settle()
            took = time.monotonic() - began
        finally:
            silent.stop()
        assert took < 10
        endpoint_id = client.get("/webhooks", headers=ADMIN).get_json()[0]["id"]
        [entry] = client.get(f"/webhooks/{endpoint_id}/deliveries", headers=ADMIN).get_json()
        assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("pending", 1, None)

    def test_a_temporary_redirect_is_not_followed(self, make_admin_app, outbox):
        redirecting = WebhookReceiver(status=307)  # to its own /moved, keeping the POST
        try:
            app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="300")
            self.registered(app, outbox, redirecting)
            run_until_idle(worker_of(app))
        finally:
            redirecting.stop()
        assert len(redirecting.deliveries) == 1, "followed, the POST would have come a second time"

    def test_a_name_that_resolves_to_a_private_address_is_refused_at_delivery(
        self, make_admin_app, receiver, outbox
    ):
        app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="0")
        client = app.test_client()
        endpoint = client.post(
            "/webhooks",
            json={"url": receiver.url.replace("127.0.0.1", "localhost"), "events": ["onRegistered"]},
            headers=ADMIN,
        ).get_json()
        receiver.secret = endpoint["secret"]
        registration_id = start(client, phone_registration())["registration_id"]
        verify(client, registration_id, outbox.last_code())

        run_until_idle(worker_of(app, allow_private_urls=False))

        assert receiver.deliveries == []

    def test_a_worker_whose_lease_ran_out_cannot_overwrite_what_the_next_one_recorded(
        self, make_admin_app, receiver, outbox
    ):
        app = make_admin_app()
        client = self.registered(app, outbox, receiver)
        slow, quick = worker_of(app, lease=1), worker_of(app)
        slow.fan_out()
        [attempt] = slow._claim(limit=1, skip=set())
        time.sleep(1.1)  # the slow worker's lease runs out while it is still sending
        quick.deliver_due()
        quick.settle()

        slow._record([(attempt, 500)])

        endpoint_id = client.get("/webhooks", headers=ADMIN).get_json()[0]["id"]
        [entry] = client.get(f"/webhooks/{endpoint_id}/deliveries", headers=ADMIN).get_json()
        assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("succeeded", 1, 200)

    def test_redelivering_to_a_disabled_endpoint_enables_it_again(self, make_admin_app, outbox):
        receiver = WebhookReceiver(answers=[410])
        try:
            app = make_admin_app()
            client = self.registered(app, outbox, receiver)
            run_until_idle(worker_of(app))
            endpoint_id = client.get("/webhooks", headers=ADMIN).get_json()[0]["id"]
            [gone] = client.get(f"/webhooks/{endpoint_id}/deliveries", headers=ADMIN).get_json()
            assert client.get(f"/webhooks/{endpoint_id}", headers=ADMIN).get_json()["disabled_at"]

            client.post(f"/webhooks/{endpoint_id}/deliveries/{gone['id']}/redeliver", headers=ADMIN)
            run_until_idle(worker_of(app))
        finally:
            receiver.stop()
        assert client.get(f"/webhooks/{endpoint_id}", headers=ADMIN).get_json()["disabled_at"] is None
        assert [d.body is not None for d in receiver.deliveries] == [True, True]

    def test_a_lost_lockout_event_is_announced_when_the_registration_lapses(
        self, make_admin_app, receiver, outbox
    ):
        app = make_admin_app(OTP_TTL="1", REGISTRATION_TTL="1", OTP_MAX_ATTEMPTS="1")
        client = app.test_client()
        subscribe(client, receiver)
        registration_id = start(client, phone_registration())["registration_id"]
        from sqlalchemy import text

        verify(client, registration_id, wrong(outbox.last_code()))
        with app.extensions["registrar"].engine.begin() as connection:
            connection.execute(text("DELETE FROM webhook_events"))  # as if its write had failed
        time.sleep(1.2)

        run_until_idle(worker_of(app))

        assert [d.body["data"]["reason"] for d in receiver.deliveries] == ["too_many_attempts"]


class TestWhereRequestsGo:
    def test_a_delivery_to_a_name_reaches_its_address_with_the_name_as_host(self, make_admin_app, outbox):
        gateway = Gateway()  # records every header; answers 200
        try:
            port = gateway.server.server_address[1]
            app = make_admin_app()
            client = app.test_client()
            created = client.post(
                "/webhooks",
                json={"url": f"http://localhost:{port}/hooks?shop=1", "events": ["onRegistered"]},
                headers=ADMIN,
            )
            assert created.status_code == 201
            registration_id = start(client, phone_registration())["registration_id"]
            assert verify(client, registration_id, outbox.last_code()).status_code == 201
            run_until_idle(worker_of(app))
        finally:
            gateway.stop()

        [request] = gateway.requests
        assert request.headers["Host"] == f"localhost:{port}"
        assert request.path == "/hooks?shop=1"
        assert request.json()["type"] == "onRegistered"

    def test_a_hostile_url_stored_before_the_check_is_never_connected_to(self, make_admin_app, outbox):
        """`http://127.0.0.1\\x.attacker.example/`: urlsplit sees a name, urllib3 127.0.0.1:80."""
        listener = socket.socket()
        try:
            listener.bind(("127.0.0.1", 80))
        except OSError:
            listener.close()
            pytest.skip("port 80 of the loopback interface is not ours to listen on")
        listener.listen(8)
        try:
            app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="0")
            client = app.test_client()
            endpoint_id = store_endpoint(app, "http://127.0.0.1\\x.attacker.example/hooks")
            registration_id = start(client, phone_registration())["registration_id"]
            assert verify(client, registration_id, outbox.last_code()).status_code == 201

            run_until_idle(worker_of(app, attempt_deadline=1))

            listener.setblocking(False)
            with pytest.raises(BlockingIOError):
                listener.accept()  # a connection would be waiting here, accepted by the kernel
        finally:
            listener.close()
        [entry] = client.get(f"/webhooks/{endpoint_id}/deliveries", headers=ADMIN).get_json()
        assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("failed", 2, None)


def store_endpoint(app, url: str) -> str:
    """An endpoint written straight to the database, as one subscribed before today's checks."""
    endpoint_id = "wh_stored" + secrets.token_hex(4)
    row = {
        "id": endpoint_id,
        "url": url,
        "events": "onRegistered,onRegistrationFailed",
        "description": None,
        "secret": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
        "created_at": utcnow(),
        "disabled_at": None,
    }
    with app.extensions["registrar"].engine.begin() as connection:
        connection.execute(insert(webhook_endpoints), row)
    return endpoint_id


class TestRetention:
    def test_old_settled_events_are_deleted_and_pending_ones_kept(self, make_admin_app, receiver):
        app = make_admin_app(WEBHOOK_RETRY_SCHEDULE="300")
        client = app.test_client()
        endpoint = subscribe(client, receiver, events=["onRegistrationFailed"])
        record = app.extensions["registrar"].registration.outbox.record
        worker = worker_of(app)
        record(
            Failure("reg_delivered_long_ago", FailureReason.CODE_DELIVERY_FAILED, "phone", MASKED_PHONE, "SA")
        )
        run_until_idle(worker)
        receiver.status = 500
        record(Failure("reg_still_pending", FailureReason.CODE_DELIVERY_FAILED, "phone", MASKED_PHONE, "SA"))
        run_until_idle(worker)
        engine = app.extensions["registrar"].engine
        with engine.begin() as connection:
            connection.execute(update(webhook_events).values(created_at=utcnow() - timedelta(days=31)))
        receiver.status = 200
        record(
            Failure("reg_delivered_today", FailureReason.CODE_DELIVERY_FAILED, "phone", MASKED_PHONE, "SA")
        )

        run_until_idle(worker_of(app))  # a worker's first round deletes what is past WEBHOOK_EVENT_RETENTION

        with engine.connect() as connection:
            kept = set(connection.execute(select(webhook_events.c.registration_id)).scalars())
        assert kept == {"reg_still_pending", "reg_delivered_today"}
        log = client.get(f"/webhooks/{endpoint['id']}/deliveries", headers=ADMIN).get_json()
        assert sorted(entry["status"] for entry in log) == ["pending", "succeeded"]

    def test_the_retention_is_a_setting(self, make_admin_app):
        assert make_admin_app().config["WEBHOOK_EVENT_RETENTION"] == 30 * 86400
        assert make_admin_app(WEBHOOK_EVENT_RETENTION="864000").config["WEBHOOK_EVENT_RETENTION"] == 864000
