"""<login-form>: an existing customer signs in with a code (API.md §1b, §7)."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import events, wait_for_event
from tests.support import wrong

pytestmark = pytest.mark.server

FORM = "login-form"
PHONE = "+966551234567"


def test_a_customer_signs_in_by_phone_and_the_page_gets_the_tokens(page, service):
    account = service.register_by_api(PHONE)
    sent_before = service.sms_count(PHONE)
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    expect(page.locator(f"{FORM} [name=email]")).to_be_hidden()

    page.locator(f"{FORM} [name=phone]").fill("0551234567")
    page.locator(f"{FORM} [part=button]").click()
    assert wait_for_event(page, "code-sent")["login_id"].startswith("log_")
    page.locator(f"{FORM} [name=code]").press_sequentially(service.sms_code(PHONE, after=sent_before))

    signed_in = wait_for_event(page, "signed-in")
    assert signed_in["customer"]["id"] == account["customer"]["id"]
    assert signed_in["access_token"] and signed_in["refresh_token"]
    expect(page.locator(FORM)).to_contain_text("You are signed in.")
    assert page.evaluate("Object.keys(localStorage).length + Object.keys(sessionStorage).length") == 0
    assert page.context.cookies() == []


def test_a_sign_in_that_uses_up_its_attempts_says_sign_in_failed(page, service):
    service.register_by_api(PHONE)
    sent_before = service.sms_count(PHONE)
    page.goto(service.shop_page(f'<{FORM} verified-by="choice"></{FORM}>'))
    page.locator(f"{FORM} [name=phone]").fill("0551234567")
    page.locator(f"{FORM} [part=button]").click()
    bad = wrong(service.sms_code(PHONE, after=sent_before))
    alert = page.locator(f"{FORM} [role=alert]")
    for left in (4, 3, 2, 1):
        page.locator(f"{FORM} [name=code]").press_sequentially(bad)
        expect(alert).to_contain_text(f"Attempts left: {left}.")

    page.locator(f"{FORM} [name=code]").press_sequentially(bad)

    assert wait_for_event(page, "sign-in-failed")["code"] == "too_many_attempts"
    assert events(page, "signed-in") == []


def test_the_customer_may_sign_in_by_email_when_the_element_offers_the_choice(page, service):
    page.goto(service.shop_page(f'<{FORM} verified-by="choice" locale="ar"></{FORM}>'))

    page.get_by_role("radio", name="البريد الإلكتروني").check()

    expect(page.locator(f"{FORM} [name=phone]")).to_be_hidden()
    page.locator(f"{FORM} [name=email]").fill("nobody@example.com")
    page.locator(f"{FORM} [part=button]").click()
    # The same answer whether or not an account exists (API.md §1b).
    assert wait_for_event(page, "code-sent")["verified_by"] == "email"
    expect(page.locator(f"{FORM} [part~=resend]")).to_contain_text("إرسال رمز جديد")
