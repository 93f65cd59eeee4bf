"""Every answer is the contract's JSON, whatever the client sends (API.md §4, §5)."""

import pytest

from tests.support import phone_registration

POST_PATHS = [
    "/auth/register",
    "/auth/register/reg_x/verify",
    "/auth/register/reg_x/resend",
    "/auth/token/refresh",
]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def test_an_unknown_path_is_a_json_404(client):
    assert_error(client.get("/wp-admin"), 404, "not_found")
    assert_error(client.post("/auth/register/reg_x/explode", json={}), 404, "not_found")


@pytest.mark.parametrize("path", ["/auth//register", "//auth/register", "/auth/register//verify"])
def test_doubled_slashes_are_a_json_404_not_a_redirect_page(client, path):
    assert_error(client.post(path, json={}), 404, "not_found")


def test_a_wrong_method_is_a_json_405_that_names_the_allowed_ones(client):
    response = client.delete("/auth/register")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("path", POST_PATHS)
def test_malformed_json_is_a_bad_request(client, path):
    body = assert_error(
        client.post(path, data='{"first_name": ', content_type="application/json"), 400, "bad_request"
    )
    assert body["message"] == "The request body is not valid JSON."


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_a_body_that_is_not_sent_as_json_is_a_bad_request(client, path, content_type):
    response = client.post(path, data='{"code": "123456"}', content_type=content_type)
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("body", ["[]", "[1, 2]", '"text"', "42", "null", "true"])
def test_a_json_body_that_is_not_an_object_is_a_bad_request(client, path, body):
    assert_error(client.post(path, data=body, content_type="application/json"), 400, "bad_request")


@pytest.mark.parametrize("path", [*POST_PATHS, "/auth/login", "/auth/login/log_x/resend"])
@pytest.mark.parametrize("body", ["", " \r\n\t "], ids=["empty", "whitespace"])
def test_an_empty_body_where_a_json_object_is_expected_is_a_bad_request(client, path, body):
    """API.md §4: an empty body is not the JSON object `{}`, even for resend, whose body is `{}`."""
    response = client.post(path, data=body, content_type="application/json")
    assert_error(response, 400, "bad_request")


def test_a_body_less_resend_is_a_bad_request_and_costs_nothing(client, outbox):
    started = client.post("/auth/register", json=phone_registration()).get_json()
    resend = f"/auth/register/{started['registration_id']}/resend"
    assert_error(client.post(resend), 400, "bad_request")
    assert client.get(f"/auth/register/{started['registration_id']}").get_json()["resends_left"] == 3
    assert len(outbox.messages) == 1


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post("/auth/register", data='{"first_name": "Sara"}', content_type=content_type)
        assert_error(response, 422, "validation_error")


def test_a_body_over_64_kib_is_too_large(client):
    padding = "x" * (64 * 1024)
    response = client.post(
        "/auth/register", data=f'{{"first_name": "{padding}"}}', content_type="application/json"
    )
    assert_error(response, 413, "payload_too_large")


def test_half_a_utf16_surrogate_pair_is_not_text(client):
    response = client.post(
        "/auth/register", data='{"first_name": "\\ud800"}', content_type="application/json"
    )
    assert_error(response, 400, "bad_request")


def test_absurdly_deep_nesting_is_a_bad_request_not_a_crash(client):
    deep = "[" * 30_000 + "]" * 30_000
    response = client.post(
        "/auth/register", data=f'{{"first_name": {deep}}}', content_type="application/json"
    )
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    "junk",
    [None, 0, 1.5, True, [], {}, ["0551234567"], {"$gt": ""}, "x" * 10_000, "\u0000", "😀" * 30],
)
@pytest.mark.parametrize(
    "field",
    [
        "first_name",
        "last_name",
        "email",
        "phone",
        "country_code",
        "country_key",
        "verified_by",
        "code",
        "locale",
    ],
)
def test_junk_in_any_field_of_start_is_a_validation_error(client, field, junk):
    response = client.post("/auth/register", json=phone_registration(**{field: junk}))
    assert response.status_code in (202, 404, 422), response.get_json()
    if response.status_code == 422:
        assert_error(response, 422, "validation_error")


def test_an_unexpected_failure_is_a_json_500_without_a_trace(app, client, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["registrar"].registration, "start", explode)
    response = client.post("/auth/register", json=phone_registration())
    body = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    assert set(body) == {"code", "message"}


def test_error_messages_follow_the_request_locale(client):
    body = assert_error(client.get("/nowhere", headers={"Accept-Language": "ar"}), 404, "not_found")
    assert body["message"] == "لا يوجد شيء في هذا العنوان."


def test_responses_are_utf8_json(client):
    response = client.post("/auth/register", json={"locale": "ar"})
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "بعض" in response.get_data(as_text=True)


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "checks": {"redis": "ok", "database": "ok"}}


def test_readiness_and_requests_answer_503_when_redis_cannot_be_reached(make_app):
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    ready = client.get("/readyz")
    assert_error(ready, 503, "service_unavailable")
    assert ready.get_json()["checks"] == {"redis": "unavailable", "database": "ok"}
    assert_error(client.post("/auth/register", json=phone_registration()), 503, "service_unavailable")
    assert_error(client.get("/auth/register/reg_x"), 503, "service_unavailable")
    assert client.get("/healthz").status_code == 200


def test_readiness_answers_503_when_the_database_cannot_be_reached(make_app, tmp_path):
    client = make_app(DATABASE_URL="postgresql://postgres@127.0.0.1:1/test").test_client()
    ready = client.get("/readyz")
    assert_error(ready, 503, "service_unavailable")
    assert ready.get_json()["checks"] == {"redis": "ok", "database": "unavailable"}


def test_the_openapi_document_and_the_docs_are_served(client):
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.get_json()["paths"]
    for path in (
        "/auth/register",
        "/auth/register/{registration_id}",
        "/auth/register/{registration_id}/verify",
        "/auth/register/{registration_id}/resend",
        "/auth/token/refresh",
        "/customers/me",
        "/.well-known/jwks.json",
        "/healthz",
        "/readyz",
    ):
        assert path in paths
    assert paths["/auth/register"]["post"]["summary"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.get_data(as_text=True).lower()


def test_the_docs_load_swagger_ui_from_this_service_alone(client):
    """API.md §5: no CDN. Every script and style of /docs is same-origin and answers 200."""
    import re

    docs = client.get("/docs")
    html = docs.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {asset.rsplit("/", 1)[-1] for asset in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.mimetype in ("text/javascript", "application/javascript", "text/css"), asset
    csp = docs.headers["Content-Security-Policy"]
    assert "http" not in csp and "script-src 'self'" in csp
    assert_error(client.get("/docs/assets/../../app/__init__.py"), 404, "not_found")


def test_an_unexpected_error_logs_its_stack_but_not_its_message(app, client, monkeypatch, caplog):
    """A database's message can quote the phone or email of the row it refused."""

    def explode(registration, *args, **kwargs):
        raise RuntimeError(f"Key (phone)=({registration.phone}) already exists")

    monkeypatch.setattr(app.extensions["registrar"].registration, "start", explode)
    with caplog.at_level("ERROR", logger="registrar.http"):
        assert client.post("/auth/register", json=phone_registration()).status_code == 500

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "RuntimeError" in logged
    assert "explode" in logged, "the stack is logged"
    assert "551234567" not in logged
    assert all(record.exc_info is None for record in caplog.records)


FORWARDED_WARNING = "X-Forwarded-For but TRUSTED_PROXIES=0"


def forwarded_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if FORWARDED_WARNING in r.getMessage()]


def test_requests_through_a_proxy_that_is_not_trusted_are_warned_of_once(make_app, caplog):
    """Behind a load balancer with TRUSTED_PROXIES=0 every client shares the balancer's limits."""
    client = make_app().test_client()
    with caplog.at_level("WARNING", logger="registrar.http"):
        client.get("/healthz")
        assert forwarded_warnings(caplog) == []
        for address in ("203.0.113.7", "198.51.100.9", "203.0.113.7"):
            assert client.get("/healthz", headers={"X-Forwarded-For": address}).status_code == 200
    [warning] = forwarded_warnings(caplog)
    assert "TRUSTED_PROXIES" in warning and "203.0.113.7" not in warning


def test_trusted_proxies_are_not_warned_of(make_app, caplog):
    client = make_app(TRUSTED_PROXIES="1").test_client()
    with caplog.at_level("WARNING", logger="registrar.http"):
        client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.7"})
    assert forwarded_warnings(caplog) == []
