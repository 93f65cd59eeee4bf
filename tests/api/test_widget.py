"""How the elements' script and the demo page are served (API.md §7, DEMO_PAGE of §6)."""

import gzip

import pytest

from config.settings import ROOT, Config
from tests.unit.test_settings import PRODUCTION

SCRIPT = "/widget/registration.js"
SHOP = "https://shop.example"


def test_the_script_is_javascript_with_an_etag_and_may_be_cached(client):
    response = client.get(SCRIPT)

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.mimetype_params["charset"] == "utf-8"  # its Arabic texts
    assert response.headers["ETag"]
    assert response.cache_control.public and response.cache_control.max_age > 0
    assert 'customElements.define("registration-form"' in response.get_data(as_text=True)


def test_a_browser_that_has_the_script_gets_a_304_without_a_body(client):
    etag = client.get(SCRIPT).headers["ETag"]

    again = client.get(SCRIPT, headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.get_data() == b""


def test_the_script_is_gzipped_for_browsers_that_take_it_under_its_own_etag(client):
    plain = client.get(SCRIPT)
    zipped = client.get(SCRIPT, headers={"Accept-Encoding": "gzip, deflate, br"})

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert {"Accept-Encoding", "Origin"} <= set(zipped.vary)


def test_both_elements_fit_in_12_kib_gzipped():
    source = (ROOT / "app" / "widget" / "registration.js").read_bytes()
    assert len(gzip.compress(source, 9)) <= 12 * 1024


def test_a_shop_named_in_cors_origins_may_load_the_script_as_a_module(make_app):
    client = make_app(CORS_ORIGINS=SHOP).test_client()

    allowed = client.get(SCRIPT, headers={"Origin": SHOP})
    other = client.get(SCRIPT, headers={"Origin": "https://elsewhere.example"})

    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Origin" not in other.headers


def test_the_demo_page_loads_both_elements_under_a_policy_that_allows_only_its_own_scripts(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<registration-form" in page and "<login-form" in page
    assert f'src="{SCRIPT}"' in page
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in policy
    assert "unsafe-inline" not in policy


def test_without_the_demo_page_the_root_is_a_json_404(make_app):
    response = make_app(DEMO_PAGE="false").test_client().get("/")

    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("settings", "shown"),
    [
        ({}, True),
        (PRODUCTION, False),
        ({**PRODUCTION, "DEMO_PAGE": "true"}, True),
        ({"DEMO_PAGE": "no"}, False),
    ],
)
def test_the_demo_page_is_on_by_default_and_off_by_default_in_production(settings, shown):
    assert Config.load(settings).DEMO_PAGE is shown
