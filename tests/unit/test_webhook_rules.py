"""The pure rules of webhooks: what follows an attempt, and which addresses are public."""

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from app.webhooks.guard import UnsafeUrl, _public, check_url, parse_url
from app.webhooks.outbox import FAILED, PENDING, STATE_FIELDS, SUCCEEDED, after_attempt

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SCHEDULE = (5, 300, 1800)


class TestAfterAnAttempt:
    @pytest.mark.parametrize("code", [200, 201, 204, 299])
    def test_2xx_succeeds(self, code):
        state = after_attempt(0, code, SCHEDULE, NOW, jitter=1.0)
        assert (state["status"], state["attempts"], state["next_attempt_at"]) == (SUCCEEDED, 1, None)

    @pytest.mark.parametrize(("attempts_before", "wait"), [(0, 5), (1, 300), (2, 1800)])
    def test_a_failure_waits_for_the_schedule_step_it_has_reached(self, attempts_before, wait):
        state = after_attempt(attempts_before, 500, SCHEDULE, NOW, jitter=1.0)
        assert state["status"] == PENDING
        assert state["next_attempt_at"] == NOW + timedelta(seconds=wait)

    def test_jitter_stretches_or_shrinks_the_wait(self):
        assert after_attempt(1, 503, SCHEDULE, NOW, jitter=1.1)["next_attempt_at"] == NOW + timedelta(
            seconds=330
        )
        assert after_attempt(1, 503, SCHEDULE, NOW, jitter=0.9)["next_attempt_at"] == NOW + timedelta(
            seconds=270
        )

    def test_no_answer_is_a_failure_like_any_other(self):
        state = after_attempt(0, None, SCHEDULE, NOW, jitter=1.0)
        assert (state["status"], state["last_status_code"]) == (PENDING, None)

    def test_the_attempt_after_the_last_step_fails_for_good(self):
        state = after_attempt(len(SCHEDULE), 500, SCHEDULE, NOW, jitter=1.0)
        assert (state["status"], state["attempts"], state["next_attempt_at"]) == (FAILED, 4, None)

    def test_410_gone_fails_at_once(self):
        assert after_attempt(0, 410, SCHEDULE, NOW, jitter=1.0)["status"] == FAILED

    def test_every_outcome_gives_back_the_lease_and_sets_the_same_fields(self):
        for attempts_before, code in ((0, 200), (0, 410), (0, 500), (0, None), (3, 500)):
            state = after_attempt(attempts_before, code, SCHEDULE, NOW, jitter=1.0)
            assert state["lease_until"] is None and state["lease_token"] is None
            assert set(state) == set(STATE_FIELDS)


class TestAddresses:
    @pytest.mark.parametrize(
        "address",
        [
            "127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
            "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe", "2002:7f00:1::", "::127.0.0.1", "ff02::1",
        ],
    )  # fmt: skip
    def test_private_loopback_link_local_and_their_disguises_are_not_public(self, address):
        assert not _public(ipaddress.ip_address(address))

    @pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "64:ff9b::5db8:d822"])
    def test_public_addresses_are(self, address):
        assert _public(ipaddress.ip_address(address))

    @pytest.mark.parametrize(
        "url",
        ["http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://[::]/", "http://0/"],
    )
    def test_numeric_spellings_of_loopback_are_refused(self, url):
        with pytest.raises(UnsafeUrl):
            check_url(url, allow_private=False)

    def test_allowing_private_urls_still_checks_the_form(self):
        assert check_url("http://127.0.0.1:8080/hooks", allow_private=True)
        with pytest.raises(UnsafeUrl, match="at most 2048"):
            check_url("http://127.0.0.1/" + "a" * 2048, allow_private=True)
        with pytest.raises(UnsafeUrl, match="credentials"):
            check_url("http://me:secret@127.0.0.1/", allow_private=True)


class TestWhatAUrlMeans:
    def test_a_name_is_sent_in_ascii_with_its_port_unless_it_is_the_schemes_own(self):
        target = parse_url("https://Bücher.Example:8443/hooks/ü?shop=1#part")
        assert (target.scheme, target.host, target.port) == ("https", "xn--bcher-kva.example", 8443)
        assert target.authority == "xn--bcher-kva.example:8443"
        assert target.path == "/hooks/%C3%BC?shop=1"
        assert parse_url("http://hooks.example").authority == "hooks.example"
        assert parse_url("http://hooks.example").path == "/"

    def test_a_path_is_sent_as_written_even_when_it_begins_with_two_slashes(self):
        assert parse_url("http://hooks.example//shop/hooks?a=1#part").path == "//shop/hooks?a=1"
        assert parse_url("http://hooks.example/?").path == "/"

    def test_ip_literals_are_addresses(self):
        assert parse_url("http://[2606:2800:220:1::1]:8080/").authority == "[2606:2800:220:1::1]:8080"
        assert parse_url("http://93.184.216.34/").host == "93.184.216.34"

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1\\x.attacker.example/",
            "http://hooks.example./",
            "http://-hooks.example/",
            "http://hooks.example:0/",
            "http://[127.0.0.1]/",
            "http://" + "a" * 64 + ".example/",
        ],
    )
    def test_hosts_another_parser_could_read_otherwise_are_refused(self, url):
        with pytest.raises(UnsafeUrl):
            parse_url(url)
