"""`GET /`: the demo page shows both elements, switches language and logs their events."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.server


def test_the_demo_page_switches_language_and_logs_the_events(page, service):
    failures = []
    page.on("console", lambda message: message.type == "error" and failures.append(message.text))
    page.goto(service.url)
    expect(page.locator("registration-form [name=first_name]")).to_be_visible()
    expect(page.locator("login-form [name=phone]")).to_be_visible()

    page.get_by_label("Language / اللغة").select_option("ar")

    expect(page.locator("registration-form label[for=f-first_name]")).to_have_text("الاسم الأول")
    expect(page.locator("login-form [part=button]")).to_have_text("تسجيل الدخول")
    page.locator("registration-form [name=first_name]").fill("سارة")
    page.locator("registration-form [name=phone]").fill("0551234567")
    page.locator("registration-form [part=button]").click()
    expect(page.locator("#log li").first).to_contain_text("registration-form code-sent")
    assert failures == []  # nothing refused by the page's Content-Security-Policy
