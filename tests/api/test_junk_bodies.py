"""Junk at every POST endpoint never makes a 5xx (issue #5, API.md §4).

Whole bodies that are junk (not objects, deeply nested, huge, NUL characters, half a UTF-16
pair, invalid UTF-8, emoji and right-to-left overrides, unknown fields), and every known
field of each endpoint set to junk (wrong types, nulls, huge and odd strings). Each answer
is one of the contract's statuses, as JSON, and an error carries `code` and `message`.

Endpoints that take a registration, a login, a webhook or a delivery are tried on a real one and on
an unknown one. A few hypothesis runs throw arbitrary JSON at the same endpoints.

Everything is sent to a real gunicorn on one kept-alive session, and no connection may drop:
after each test, every connection but the first followed an answer that said it would close.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from app.webhooks.worker import DeliveryWorker
from config.settings import Config
from tests.conftest import Server, kept_alive_server
from tests.servers import KeptAliveClient
from tests.support import MASKED_PHONE, phone_registration

ADMIN_KEY = "junk-admin-key-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
ALLOWED_STATUSES = {200, 201, 202, 204, 400, 401, 404, 409, 410, 413, 422, 429}
# A public address given as an IP literal: the URL guard checks it without any DNS lookup.
PUBLIC_URL = "https://93.184.215.14/hooks"
REGISTER_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "country_code",
    "country_key",
    "verified_by",
    "code",
    "locale",
)

LOGIN_FIELDS = ("verified_by", "phone", "country_code", "country_key", "email", "locale")
LOGIN = {"verified_by": "phone", "phone": "0551234567", "country_code": "SA"}


@dataclass(frozen=True)
class Endpoint:
    """A POST endpoint: a valid body, its known fields, and what its path needs."""

    name: str
    path: str  # with {registration_id}, {login_id}, {webhook_id}, {delivery_id} to fill in
    body: dict
    fields: tuple[str, ...] = ()
    admin: bool = False
    needs: str | None = None  # "registration", "login" or "delivery": a real one, or "unknown"
    headers: dict = field(default_factory=dict)


ENDPOINTS = [
    Endpoint("start", "/auth/register", phone_registration(), REGISTER_FIELDS),
    Endpoint(
        "start-idempotent",
        "/auth/register",
        phone_registration(),
        REGISTER_FIELDS,
        headers={"Idempotency-Key": "junk-key"},
    ),
    Endpoint(
        "verify-pending",
        "/auth/register/{registration_id}/verify",
        {"code": "123456"},
        ("code",),
        needs="registration",
    ),
    Endpoint(
        "verify-unknown", "/auth/register/reg_unknown0000000000000/verify", {"code": "123456"}, ("code",)
    ),
    Endpoint("resend-pending", "/auth/register/{registration_id}/resend", {}, needs="registration"),
    Endpoint("resend-unknown", "/auth/register/reg_unknown0000000000000/resend", {}),
    Endpoint("refresh", "/auth/token/refresh", {"refresh_token": "not-a-token"}, ("refresh_token",)),
    Endpoint("logout", "/auth/logout", {"refresh_token": "not-a-token"}, ("refresh_token",)),
    Endpoint("login", "/auth/login", LOGIN, LOGIN_FIELDS),
    Endpoint(
        "login-by-email",
        "/auth/login",
        {"verified_by": "email", "email": "omar@example.com"},
        LOGIN_FIELDS,
        headers={"Idempotency-Key": "junk-login-key"},
    ),
    Endpoint(
        "login-verify-pending", "/auth/login/{login_id}/verify", {"code": "123456"}, ("code",), needs="login"
    ),
    Endpoint(
        "login-verify-unknown", "/auth/login/log_unknown0000000000000/verify", {"code": "123456"}, ("code",)
    ),
    Endpoint("login-resend-pending", "/auth/login/{login_id}/resend", {}, needs="login"),
    Endpoint("login-resend-unknown", "/auth/login/log_unknown0000000000000/resend", {}),
    Endpoint(
        "webhooks",
        "/webhooks",
        {"url": PUBLIC_URL, "events": ["onRegistered"], "description": "CRM"},
        ("url", "events", "description"),
        admin=True,
    ),
    Endpoint(
        "redeliver-real",
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        {},
        admin=True,
        needs="delivery",
    ),
    Endpoint(
        "redeliver-unknown",
        "/webhooks/wh_unknown00000000000000/deliveries/dlv_unknown0000000000000/redeliver",
        {},
        admin=True,
    ),
]
WITH_FIELDS = [endpoint for endpoint in ENDPOINTS if endpoint.fields]


def nested_object(depth: int, leaf: str = '"x"') -> str:
    return '{"a": ' * depth + leaf + "}" * depth


def nested_array(depth: int, leaf: str = '"x"') -> str:
    return "[" * depth + leaf + "]" * depth


# Whole bodies, as the bytes on the wire.
JUNK_BODIES: dict[str, str | bytes] = {
    "empty-array": "[]",
    "string": '"x"',
    "number": "1",
    "null": "null",
    "true": "true",
    "empty": "",
    "whitespace": " \n\t ",
    "trailing-garbage": "{} x",
    "bom": b"\xef\xbb\xbf{}",
    "invalid-utf8": b'{"a": "\xff\xfe"}',
    "nested-object-50": nested_object(50),
    "nested-object-500": nested_object(500),
    "nested-array-500": f'{{"a": {nested_array(500)}}}',
    "nested-object-5000": nested_object(5000),
    "60kb-string": json.dumps({"a": "x" * 60_000}),
    "60kb-key": json.dumps({"k" * 60_000: 1}),
    "over-64kib": json.dumps({"a": "x" * 70_000}),
    "nul-escaped": '{"a": "x\\u0000y"}',
    "nul-raw": '{"a": "x\x00y"}',
    "nul-key": '{"\\u0000": 1}',
    "lone-high-surrogate": '{"code": "\\ud800"}',
    "lone-low-surrogate": '{"code": "\\udfff"}',
    "reversed-surrogates": '{"code": "\\udc00\\ud800"}',
    "surrogate-key": '{"\\ud800": 1}',
    "surrogate-deep": '{"a": [{"b": ["\\ud800"]}]}',
    "emoji-rtl": json.dumps({"a": "😀\u202e\u200f\u2066"}, ensure_ascii=False),
    "unknown-field": '{"unknown": 1}',
    "proto": '{"__proto__": {"admin": true}, "constructor": {"prototype": {}}}',
    "nan": '{"a": NaN}',
    "infinity": '{"a": -Infinity}',
    "huge-int": '{"a": 1' + "0" * 5000 + "}",
    "huge-exponent": '{"a": 1e999999}',
    "duplicate-keys": '{"a": 1, "a": 2}',
}

# Merged into the endpoint's valid body: unknown fields next to good ones.
EXTRA_FIELDS: dict[str, dict] = {
    "unknown": {"unknown": 1},
    "unknown-emoji-rtl": {"😀\u202e": "\u202e😀"},
    "unknown-nested": {"extra": {"a": {"b": {"c": [1, {"d": None}]}}}},
    "unknown-60kb": {"extra": "x" * 60_000},
    "unknown-empty-name": {"": ""},
}

FIELD_JUNK: dict[str, object] = {
    "none": None,
    "zero": 0,
    "minus-one": -1,
    "float": 1.5,
    "1e308": 1e308,
    "true": True,
    "empty-list": [],
    "empty-object": {},
    "list": [1, 2],
    "operator": {"$gt": ""},
    "empty-string": "",
    "space": " ",
    "10k-string": "x" * 10_000,
    "nul": "\u0000",
    "emoji": "😀" * 30,
    "rtl-override": "\u202e",
    "arabic-indic-digits": "٠١٢٣٤٥",
}

# Junk that only means something to one field.
FIELD_SPECIFIC_JUNK: dict[str, dict[str, object]] = {
    "url": {
        "unclosed-ipv6": "http://[::1",
        "bad-port": "http://[::1]:99999/",
        "negative-port": "http://a:-1/",
        "javascript": "javascript:alert(1)",
        "credentials": "https://user:pass@93.184.215.14/",
        "nul-in-path": "https://93.184.215.14/a\u0000b",
        "rtl-in-path": "https://93.184.215.14/\u202egpj.exe",
        "3k-path": "https://93.184.215.14/" + "a" * 3000,
    },
    "events": {
        "duplicates": ["onRegistered", "onRegistered"],
        "unknown": ["onEverything"],
        "nul": ["onRegistered\u0000"],
        "nested": [["onRegistered"]],
        "null-item": [None],
        "string": "onRegistered",
    },
    "code": {
        "arabic-indic-10": "٠١٢٣٤٥٦٧٨٩",
        "fullwidth": "１２３４５６",
        "superscript": "¹²³⁴⁵⁶",
        "negative": "-12345",
        "spaced": " 123456 ",
    },
    "phone": {
        "arabic-indic": "٠٥٥١٢٣٤٥٦٧",
        "letters": "+966abcdefghi",
        "only-plus": "+",
        "250-digits": "9" * 250,
    },
    "country_key": {"nested": {"a": {"b": ["966"]}}, "list": ["966", "+966"], "huge-int": 10**300},
    "email": {
        "no-domain": "a@",
        "idn": "δοκιμή@παράδειγμα.δοκιμή",
        "nul": "a\u0000@example.com",
        "long-local": "a" * 300 + "@example.com",
    },
}


# gunicorn and the app, started once for the module (each test still starts from flushed
# Redis and empty tables: the conftest's clean_state). The app in this process only runs the
# webhook worker's fan-out; every request goes to gunicorn, on one session.
@pytest.fixture(scope="module")
def junk_server(base_environment, tmp_path_factory) -> Iterator[Server]:
    environment = {**base_environment, "ADMIN_API_KEY": ADMIN_KEY}
    yield from kept_alive_server(environment, tmp_path_factory.mktemp("junk"))


@pytest.fixture(scope="module")
def junk_app(base_environment) -> Iterator[Flask]:
    app = create_app(Config.load({**base_environment, "ADMIN_API_KEY": ADMIN_KEY}))
    yield app
    app.extensions["registrar"].close()


@pytest.fixture(scope="module")
def session(junk_server) -> Iterator[KeptAliveClient]:
    client = KeptAliveClient(junk_server.url)
    yield client
    client.close()


@pytest.fixture
def client(session) -> Iterator[KeptAliveClient]:
    yield session
    session.assert_no_connection_was_dropped()


@pytest.fixture
def resolve(request, junk_app, client) -> Callable[[Endpoint], tuple[str, dict]]:
    """The endpoint's path, with a real registration, login or delivery where it needs one, and headers."""

    def pending_registration() -> str:
        response = client.post("/auth/register", json=phone_registration())
        assert response.status_code == 202, response.get_json()
        return response.get_json()["registration_id"]

    def pending_login() -> str:
        response = client.post("/auth/login", json=LOGIN)
        assert response.status_code == 202, response.get_json()
        return response.get_json()["login_id"]

    def real_delivery() -> dict:
        server = request.getfixturevalue("junk_server")
        hook = client.post("/webhooks", json={"url": PUBLIC_URL, "events": ["onRegistered"]}, headers=ADMIN)
        assert hook.status_code == 201, hook.get_json()
        registration_id = pending_registration()
        code = server.codes_for(MASKED_PHONE)[-1]
        verified = client.post(f"/auth/register/{registration_id}/verify", json={"code": code})
        assert verified.status_code == 201, verified.get_json()
        registrar = junk_app.extensions["registrar"]
        DeliveryWorker(
            registrar.engine,
            registrar.registration.codes.store,
            registrar.registration.outbox,
            schedule=(5,),
            allow_private_urls=False,
        ).fan_out()
        webhook_id = hook.get_json()["id"]
        [delivery] = client.get(f"/webhooks/{webhook_id}/deliveries", headers=ADMIN).get_json()
        return {"webhook_id": webhook_id, "delivery_id": delivery["id"]}

    resolved: dict[str, tuple[str, dict]] = {}  # one real registration, login or delivery per test

    def resolve(endpoint: Endpoint) -> tuple[str, dict]:
        if endpoint.name in resolved:
            return resolved[endpoint.name]
        values: dict[str, str] = {}
        if endpoint.needs == "registration":
            values["registration_id"] = pending_registration()
        elif endpoint.needs == "login":
            values["login_id"] = pending_login()
        elif endpoint.needs == "delivery":
            values.update(real_delivery())
        headers = {**endpoint.headers, **(ADMIN if endpoint.admin else {})}
        resolved[endpoint.name] = endpoint.path.format(**values), headers
        return resolved[endpoint.name]

    return resolve


def post_raw(client, path: str, raw: str | bytes, headers: dict):
    return client.post(path, data=raw, content_type="application/json", headers=headers)


def assert_handled(response) -> None:
    """A status of the contract, never a 5xx; JSON; an error is the contract's envelope."""
    text = response.get_data(as_text=True)
    assert response.status_code < 500, f"{response.status_code}: {text[:500]}"
    assert response.status_code in ALLOWED_STATUSES, f"{response.status_code}: {text[:500]}"
    if response.status_code == 204:  # signed out, whatever the token was
        assert text == ""
        return
    assert response.mimetype == "application/json", response.headers.get("Content-Type")
    assert "Traceback" not in text
    body = response.get_json()
    if response.status_code >= 400:
        assert isinstance(body, dict), text[:500]
        assert isinstance(body.get("code"), str) and body["code"], text[:500]
        assert isinstance(body.get("message"), str) and body["message"], text[:500]


def endpoint_ids(endpoints):
    return [endpoint.name for endpoint in endpoints]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_ids(ENDPOINTS))
@pytest.mark.parametrize("raw", list(JUNK_BODIES.values()), ids=list(JUNK_BODIES))
def test_a_junk_body_is_not_a_server_error(client, resolve, endpoint, raw):
    path, headers = resolve(endpoint)
    assert_handled(post_raw(client, path, raw, headers))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_ids(ENDPOINTS))
@pytest.mark.parametrize("extra", list(EXTRA_FIELDS.values()), ids=list(EXTRA_FIELDS))
def test_unknown_fields_next_to_good_ones_are_not_a_server_error(client, resolve, endpoint, extra):
    path, headers = resolve(endpoint)
    response = client.post(path, json={**endpoint.body, **extra}, headers=headers)
    assert_handled(response)
    if endpoint.fields or endpoint.needs in ("registration", "login") or "resend" in endpoint.path:
        # Every endpoint with a body schema refuses unknown fields, keyed by their name.
        assert response.status_code == 422, response.get_json()
        assert set(extra) <= set(response.get_json()["errors"]), response.get_json()


FIELD_CASES = [
    pytest.param(endpoint, name, junk, id=f"{endpoint.name}-{name}-{junk_id}")
    for endpoint in WITH_FIELDS
    for name in endpoint.fields
    for junk_id, junk in [*FIELD_JUNK.items(), *FIELD_SPECIFIC_JUNK.get(name, {}).items()]
]


@pytest.mark.parametrize(("endpoint", "name", "junk"), FIELD_CASES)
def test_junk_in_a_known_field_is_not_a_server_error(client, resolve, endpoint, name, junk):
    path, headers = resolve(endpoint)
    assert_handled(client.post(path, json={**endpoint.body, name: junk}, headers=headers))


# The deepest nesting the JSON parser accepts depends on how deep the stack already is, so it
# is found by asking, and every depth just under it is sent: whatever the view does with such a
# value must not run out of stack where the parser did not.
NESTINGS = {"object": nested_object, "array": nested_array}
DEEP_CASES = [
    pytest.param(endpoint, name, kind, id=f"{endpoint.name}-{name or 'unknown-field'}-{kind}")
    for endpoint in ENDPOINTS
    # With an Idempotency-Key the whole body is fingerprinted whatever field holds the nesting.
    for name in ((None,) if endpoint.headers else (*endpoint.fields, None))
    for kind in NESTINGS
]


@pytest.mark.parametrize(("endpoint", "name", "kind"), DEEP_CASES)
def test_the_deepest_nesting_the_parser_takes_is_not_a_server_error(client, resolve, endpoint, name, kind):
    path, headers = resolve(endpoint)
    base = {**endpoint.body} if name else {}
    name = name or "unknown"

    def send(depth: int):
        value = NESTINGS[kind](depth)
        raw = json.dumps({**base, name: "__VALUE__"}).replace('"__VALUE__"', value)
        response = post_raw(client, path, raw, headers)
        assert_handled(response)
        return response

    def parsed(depth: int) -> bool:
        response = send(depth)
        return not (
            response.status_code == 400
            and response.get_json()["message"] == "The request body is not valid JSON."
        )

    shallow, deep = 1, 4000
    assert parsed(shallow) and not parsed(deep)
    while deep - shallow > 1:
        middle = (shallow + deep) // 2
        if parsed(middle):
            shallow = middle
        else:
            deep = middle
    for depth in range(max(1, shallow - 24), shallow + 1):
        send(depth)


POST_PATHS_WITH_IDS = [
    "/auth/register/{}/verify",
    "/auth/register/{}/resend",
    "/webhooks/{}/deliveries/dlv_x/redeliver",
    "/webhooks/wh_x/deliveries/{}/redeliver",
]
ODD_IDS = {
    "nul": "wh_%00x",
    "emoji-rtl": "%F0%9F%98%80%E2%80%AE",
    "surrogate-bytes": "%ED%A0%80",
    "invalid-utf8": "%FF%FE",
    "2k": "x" * 2000,
    "percent": "%25",
    "dot-dot": "..%2F..",
}


@pytest.mark.parametrize("path", POST_PATHS_WITH_IDS)
@pytest.mark.parametrize("odd_id", list(ODD_IDS.values()), ids=list(ODD_IDS))
def test_odd_ids_in_the_path_of_a_post_are_not_a_server_error(client, path, odd_id):
    body = {"code": "123456"} if path.endswith("/verify") else {}
    assert_handled(client.post(path.format(odd_id), json=body, headers=ADMIN))


# Hypothesis: arbitrary JSON, surrogates and control characters included.
TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)
HYPOTHESIS = settings(
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=endpoint_ids(ENDPOINTS))
@HYPOTHESIS
@given(body=JSON_VALUES)
def test_any_json_body_is_not_a_server_error(client, resolve, endpoint, body):
    path, headers = resolve(endpoint)
    assert_handled(post_raw(client, path, json.dumps(body), headers))


@HYPOTHESIS
@given(name=st.sampled_from(REGISTER_FIELDS), value=JSON_VALUES)
def test_any_json_value_in_a_field_of_start_is_not_a_server_error(client, name, value):
    assert_handled(post_raw(client, "/auth/register", json.dumps(phone_registration(**{name: value})), {}))


@HYPOTHESIS
@given(fields=st.dictionaries(st.sampled_from(REGISTER_FIELDS) | TEXT, JSON_VALUES, max_size=12))
def test_any_mix_of_known_and_unknown_fields_of_start_is_not_a_server_error(client, fields):
    assert_handled(post_raw(client, "/auth/register", json.dumps(fields), {}))
