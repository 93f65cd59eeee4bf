"""The storefront's elements in Debian's Chromium, driven by Playwright, against the running service.

A shop's page lives on another origin (a small HTTP server on another port) and loads the script
from the service, which allows that origin through CORS_ORIGINS. Codes arrive at the real SMS
gateway and SMTP server doubles, where the tests read them as a customer would. Without Chromium
the tests skip on a developer's machine; with CI set, a missing Chromium fails them.
"""

import html
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import requests
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import CODE, Server
from tests.servers import Gateway, SmtpServer, _LoopbackServer

EVENTS = (
    "code-sent",
    "registered",
    "registration-failed",
    "code-not-resent",
    "signed-in",
    "sign-in-failed",
)
# The shop's page keeps every event the elements dispatch.
RECORDER = (
    f"window.shopEvents = []; for (const type of {json.dumps(EVENTS)}) "
    "document.addEventListener(type, (event) => window.shopEvents.push({type, detail: event.detail}));"
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole run: Debian's, as Playwright's own downloads cannot be reached."""
    chromium = shutil.which("chromium")
    if chromium is None:
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the browser tests")
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        yield browser
        browser.close()


class Shop:
    """A store's own web site on another origin: serves the pages the tests give it."""

    def __init__(self):
        self.pages: dict[str, bytes] = {}
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                page = shop.pages.get(self.path.split("?")[0])
                self.send_response(200 if page else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page or b"")

            def log_message(self, *args):
                pass

        self.server = _LoopbackServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, script_url: str, body: str, *, lang: str = "en", module: bool = True) -> str:
        """The URL of a new page in `lang` holding `body`, loading the elements' script."""
        kind = ' type="module"' if module else ""
        document = (
            f'<!doctype html><html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
            f"<title>Shop</title><script>{RECORDER}</script>"
            f'<script{kind} src="{html.escape(script_url)}"></script></head>'
            f"<body><main><h1>Shop</h1>{body}</main></body></html>"
        )
        path = f"/page-{len(self.pages)}.html"
        self.pages[path] = document.encode()
        return self.origin + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Service:
    """The running service, the shop beside it, and the SMS and email its customers receive."""

    def __init__(self, server: Server, shop: Shop, gateway: Gateway, mail: SmtpServer):
        self.server, self.shop, self.gateway, self.mail = server, shop, gateway, mail
        self.url = server.url
        self.script_url = f"{server.url}/widget/registration.js"

    def shop_page(self, body: str, *, lang: str = "en", module: bool = True) -> str:
        return self.shop.page(self.script_url, body, lang=lang, module=module)

    def sms_code(self, phone: str, after: int = 0, timeout: float = 10) -> str:
        """The code of the newest SMS to `phone` (E.164), once more than `after` have arrived."""

        def texts() -> list[str]:
            return [m["body"] for m in (r.json() for r in self.gateway.requests) if m["to"] == phone]

        return _wait_for(texts, after, timeout)

    def email_code(self, address: str, after: int = 0, timeout: float = 10) -> str:
        """The code of the newest email to `address`, once more than `after` have arrived."""
        return _wait_for(
            lambda: [m.part("text/plain") for m in self.mail.inbox if address in m.rcpt_tos], after, timeout
        )

    def sms_count(self, phone: str) -> int:
        return sum(1 for r in self.gateway.requests if r.json()["to"] == phone)

    def register_by_api(self, phone_number: str) -> dict:
        """An account made through the API, for the sign-in tests."""
        national = "0" + phone_number.removeprefix("+966")
        body = {"first_name": "Huda", "phone": national, "country_code": "SA", "verified_by": "phone"}
        started = requests.post(f"{self.url}/auth/register", json=body, timeout=10).json()
        code = self.sms_code(phone_number, after=self.sms_count(phone_number) - 1)
        answer = requests.post(
            f"{self.url}/auth/register/{started['registration_id']}/verify", json={"code": code}, timeout=10
        )
        assert answer.status_code == 201, answer.text
        return answer.json()


def _wait_for(messages: Callable[[], list[str]], after: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while len(found := messages()) <= after:
        assert time.monotonic() < deadline, f"no message after the first {after}"
        time.sleep(0.05)
    return CODE.search(found[-1]).group(1)


def start_service(base_environment: dict, log_path, **settings: str) -> Iterator[Service]:
    """Gunicorn with an HTTP SMS gateway and an SMTP server, allowing a shop's origin."""
    shop, gateway, mail = Shop(), Gateway(), SmtpServer()
    environment = {
        **base_environment,
        "SMS_CHANNEL": "http",
        "SMS_HTTP_URL": f"{gateway.url}/messages",
        "EMAIL_CHANNEL": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mail.port),
        "SMTP_STARTTLS": "false",
        "MAIL_FROM": "shop@example.com",
        "CORS_ORIGINS": shop.origin,
        **settings,
    }
    server = Server(environment, log_path).start()
    try:
        yield Service(server, shop, gateway, mail)
    finally:
        server.stop()
        shop.stop()
        gateway.stop()
        mail.stop()


@pytest.fixture(scope="package")
def service(base_environment, tmp_path_factory) -> Iterator[Service]:
    """One service for the browser tests that take the default settings (no resend cooldown)."""
    yield from start_service(base_environment, tmp_path_factory.mktemp("service") / "server.log")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no storage, no cookies) and its page, for one test."""
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def events(page: Page, kind: str | None = None) -> list[dict]:
    """The events the shop's page heard from the elements, oldest first."""
    heard = page.evaluate("window.shopEvents")
    return [event for event in heard if kind is None or event["type"] == kind]


def wait_for_event(page: Page, kind: str, count: int = 1) -> dict:
    """The `count`th event of `kind`, once it has been heard."""
    heard = "([kind, count]) => window.shopEvents.filter((e) => e.type === kind).length >= count"
    page.wait_for_function(heard, arg=[kind, count])
    return events(page, kind)[count - 1]["detail"]
