"""The code step's resend button: a countdown that is announced once, and refusals as events."""

from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import Service, events, start_service, wait_for_event
from tests.support import phone_registration

pytestmark = pytest.mark.server

FORM = "registration-form"
COOLDOWN = 2
# What the role=status region says from the moment it is watched.
WATCH_STATUS = """() => {
  window.announced = [];
  const region = document.querySelector("registration-form").shadowRoot.querySelector("[role=status]");
  new MutationObserver(() => region.textContent && window.announced.push(region.textContent))
    .observe(region, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture(scope="module")
def slow_service(base_environment, tmp_path_factory) -> Iterator[Service]:
    """A service with a resend cooldown and one resend per registration."""
    log_path = tmp_path_factory.mktemp("resend") / "server.log"
    yield from start_service(base_environment, log_path, RESEND_COOLDOWN=str(COOLDOWN), MAX_RESENDS="1")


def test_the_resend_button_counts_down_is_announced_once_and_refusals_arrive_as_code_not_resent(
    page, slow_service
):
    page.goto(slow_service.shop_page(f"<{FORM}></{FORM}>"))
    page.locator(f"{FORM} [name=first_name]").fill("Sara")
    page.locator(f"{FORM} [name=phone]").fill("0551234567")
    page.locator(f"{FORM} [part=button]").click()
    assert wait_for_event(page, "code-sent")["resend_in"] == COOLDOWN
    resend = page.get_by_role("button", name="Send a new code", exact=True)
    status = page.locator(f"{FORM} [role=status]")
    expect(status).to_have_text("Code sent.")
    expect(resend).to_be_disabled()
    expect(resend).to_contain_text("(0:0")  # the seconds are shown, not read out
    page.evaluate(WATCH_STATUS)

    expect(resend).to_be_enabled()
    expect(status).to_have_text("You can ask for a new code.")
    assert page.evaluate("window.announced") == ["You can ask for a new code."]

    # Another registration to the same phone starts the cooldown again: the service refuses.
    other = requests.post(f"{slow_service.url}/auth/register", json=phone_registration(), timeout=10)
    assert other.status_code == 202
    resend.click()
    too_soon = wait_for_event(page, "code-not-resent")
    assert too_soon["code"] == "resend_too_soon"
    expect(page.locator(f"{FORM} [role=alert]")).to_contain_text("Try again in")
    expect(resend).to_be_disabled()
    expect(resend).to_be_enabled()

    resend.click()
    resent = wait_for_event(page, "code-sent", count=2)
    assert resent["resends_left"] == 0
    expect(resend).to_be_disabled()
    expect(resend).to_be_enabled()  # even with no resend left: the service says no
    resend.click()

    assert wait_for_event(page, "code-not-resent", count=2)["code"] == "too_many_resends"
    assert page.evaluate("window.announced") == [
        "You can ask for a new code.",
        "You can ask for a new code.",
        "Code sent.",
        "You can ask for a new code.",
    ]
    # The newest code still works.
    code = slow_service.sms_code("+966551234567", after=2)
    page.locator(f"{FORM} [name=code]").press_sequentially(code)
    wait_for_event(page, "registered")
    assert [event["type"] for event in events(page)].count("registration-failed") == 0
