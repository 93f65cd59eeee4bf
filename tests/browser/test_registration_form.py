"""<registration-form> on a shop's page, as its customers use it (API.md §7)."""

import json
import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import events, wait_for_event
from tests.support import phone_registration, wrong

pytestmark = pytest.mark.server

FORM = "registration-form"


def fill_phone_form(page: Page, phone: str = "0551234567", first_name: str = "Sara") -> None:
    page.locator(f"{FORM} [name=first_name]").fill(first_name)
    page.locator(f"{FORM} [name=phone]").fill(phone)
    page.locator(f"{FORM} [part=button]").click()
    wait_for_event(page, "code-sent")


def code_input(page: Page):
    return page.locator(f"{FORM} [name=code]")


def test_a_customer_registers_by_phone_from_a_shop_on_another_origin_and_the_code_submits_itself(
    page, service
):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    assert page.evaluate("location.origin") != service.url

    fill_phone_form(page)
    sent = events(page, "code-sent")[0]["detail"]
    assert sent["destination"] == "+966 55••••567"
    expect(page.locator(f"{FORM} bdi")).to_have_text("+966 55••••567")
    code = service.sms_code("+966551234567")
    code_input(page).press_sequentially(code)  # no button pressed: the last digit sends it

    registered = wait_for_event(page, "registered")
    assert registered["customer"]["phone"] == "+966551234567"
    assert registered["customer"]["first_name"] == "Sara"
    assert registered["access_token"] and registered["refresh_token"]
    expect(page.locator(FORM)).to_contain_text("Your account is ready.")


def test_a_customer_registers_by_email_with_the_script_loaded_as_a_classic_script(page, service):
    page.goto(service.shop_page(f'<{FORM} verified-by="email"></{FORM}>', module=False))

    page.locator(f"{FORM} [name=first_name]").fill("Omar")
    page.locator(f"{FORM} [name=email]").fill("omar@example.com")
    page.locator(f"{FORM} [part=button]").click()
    assert wait_for_event(page, "code-sent")["verified_by"] == "email"
    code_input(page).fill(service.email_code("omar@example.com"))

    registered = wait_for_event(page, "registered")
    assert registered["customer"]["email"] == "omar@example.com"
    assert registered["customer"]["email_verified"] is True


def test_the_customer_may_choose_the_channel(page, service):
    page.goto(service.shop_page(f'<{FORM} verified-by="choice"></{FORM}>'))
    expect(page.locator(f"{FORM} [name=phone]")).to_have_attribute("required", "")

    page.get_by_role("radio", name="Email").check()
    expect(page.locator(f"{FORM} [name=email]")).to_have_attribute("required", "")
    page.locator(f"{FORM} [name=first_name]").fill("Omar")
    page.locator(f"{FORM} [name=email]").fill("omar@example.com")
    page.locator(f"{FORM} [part=button]").click()

    assert wait_for_event(page, "code-sent")["verified_by"] == "email"


def test_arabic_lays_the_element_out_right_to_left_with_the_code_left_to_right_and_takes_arabic_digits(
    page, service
):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>", lang="ar"))
    expect(page.locator(f"{FORM} label[for=f-first_name]")).to_have_text("الاسم الأول")
    direction = "(element) => getComputedStyle(element).direction"
    assert page.locator(f"{FORM} form").evaluate(direction) == "rtl"

    fill_phone_form(page, phone="٠٥٥١٢٣٤٥٦٧", first_name="سارة")  # typed with Arabic-Indic digits
    code = service.sms_code("+966551234567")
    assert code_input(page).evaluate(direction) == "ltr"
    extended = "".join(chr(0x06F0 + int(digit)) for digit in code)  # Extended Arabic-Indic (Persian, Urdu)
    code_input(page).press_sequentially(extended)

    registered = wait_for_event(page, "registered")
    assert registered["customer"]["locale"] == "ar"
    expect(page.locator(FORM)).to_contain_text("تم إنشاء حسابك.")


def test_a_pasted_code_in_arabic_indic_digits_with_spaces_becomes_ascii_and_submits_itself(page, service):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=service.shop.origin)
    page.goto(service.shop_page(f"<{FORM}></{FORM}>", lang="ar"))
    fill_phone_form(page)
    code = service.sms_code("+966551234567")
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in code)
    pasted = f" {arabic_indic[:3]} {arabic_indic[3:]} "
    page.evaluate("(text) => navigator.clipboard.writeText(text)", pasted)

    code_input(page).focus()
    page.keyboard.press("ControlOrMeta+V")

    wait_for_event(page, "registered")
    assert events(page, "registration-failed") == []


def test_typed_letters_and_dashes_are_dropped_from_the_code(page, service):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    fill_phone_form(page)

    code_input(page).press_sequentially("1a-2 b3")

    expect(code_input(page)).to_have_value("123")
    expect(code_input(page)).to_have_attribute("autocomplete", "one-time-code")
    expect(code_input(page)).to_have_attribute("inputmode", "numeric")


def test_a_wrong_code_clears_the_input_and_says_how_many_attempts_are_left(page, service):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    fill_phone_form(page)
    code = service.sms_code("+966551234567")

    code_input(page).press_sequentially(wrong(code))

    alert = page.locator(f"{FORM} [role=alert]")
    expect(alert).to_have_text("That code is not correct. Attempts left: 4.")
    expect(code_input(page)).to_have_value("")
    expect(code_input(page)).to_have_attribute("aria-invalid", "true")
    code_input(page).press_sequentially(code)
    wait_for_event(page, "registered")


def test_the_attempt_that_uses_up_the_last_one_ends_the_registration_with_registration_failed(page, service):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    fill_phone_form(page)
    bad = wrong(service.sms_code("+966551234567"))
    alert = page.locator(f"{FORM} [role=alert]")
    for left in (4, 3, 2, 1):
        code_input(page).press_sequentially(bad)
        expect(alert).to_contain_text(f"Attempts left: {left}.")

    code_input(page).press_sequentially(bad)

    failed = wait_for_event(page, "registration-failed")
    assert failed["code"] == "too_many_attempts"
    expect(page.locator(f"{FORM} [name=first_name]")).to_be_visible()  # back to the form, to start again
    expect(alert).not_to_be_empty()


@pytest.mark.parametrize(
    ("lang", "message"),
    [("en", "Not a valid phone number for this country."), ("ar", "رقم الجوال غير صالح لهذه الدولة.")],
)
def test_a_422_puts_its_message_beside_its_field_in_the_pages_language(page, service, lang, message):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>", lang=lang))
    page.locator(f"{FORM} [name=first_name]").fill("Sara")
    page.locator(f"{FORM} [name=phone]").fill("12")

    page.locator(f"{FORM} [part=button]").click()

    phone = page.locator(f"{FORM} [name=phone]")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"{FORM} #e-phone")).to_contain_text(message)
    expect(phone).to_be_focused()
    expect(page.locator(f"{FORM} [name=first_name]")).not_to_have_attribute("aria-invalid", "true")
    assert events(page, "code-sent") == []


WEB_OTP_STUB = """
window.OTPCredential = window.OTPCredential || function OTPCredential() {};
window.webOtp = {asked: null, aborted: false, answer: null};
navigator.credentials.get = (options) => new Promise((resolve, reject) => {
  window.webOtp.asked = {otp: options.otp, hasSignal: options.signal instanceof AbortSignal};
  window.webOtp.answer = resolve;
  options.signal.addEventListener("abort", () => {
    window.webOtp.aborted = true;
    reject(new DOMException("The step ended", "AbortError"));
  });
});
"""


def test_webotp_fills_in_the_code_from_the_sms_and_submits_it(page, service):
    page.add_init_script(WEB_OTP_STUB)
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    fill_phone_form(page)
    assert page.evaluate("window.webOtp.asked") == {"otp": {"transport": ["sms"]}, "hasSignal": True}

    code = service.sms_code("+966551234567")
    page.evaluate("(code) => window.webOtp.answer({type: 'otp', code})", code)

    wait_for_event(page, "registered")


def test_the_webotp_request_is_aborted_when_the_code_step_ends_otherwise(page, service):
    page.add_init_script(WEB_OTP_STUB)
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    fill_phone_form(page)
    assert page.evaluate("window.webOtp.aborted") is False

    code_input(page).press_sequentially(service.sms_code("+966551234567"))

    wait_for_event(page, "registered")
    assert page.evaluate("window.webOtp.aborted") is True


def test_no_token_is_left_in_storage_cookies_or_the_element(page, service):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    fill_phone_form(page)
    code_input(page).press_sequentially(service.sms_code("+966551234567"))
    registered = wait_for_event(page, "registered")

    tokens = [registered["access_token"], registered["refresh_token"]]
    kept = page.evaluate(
        """async () => ({
          local: Object.keys(localStorage).length,
          session: Object.keys(sessionStorage).length,
          cookie: document.cookie,
          databases: (await indexedDB.databases()).length,
          caches: (await caches.keys()).length,
          shadow: document.querySelector("registration-form").shadowRoot.innerHTML,
          properties: JSON.stringify(Object.entries(document.querySelector("registration-form"))
            .map(([name, value]) => [name, value instanceof Node ? value.textContent : value])),
        })"""
    )
    stored = (kept["local"], kept["session"], kept["cookie"], kept["databases"], kept["caches"])
    assert stored == (0, 0, "", 0, 0)
    assert page.context.cookies() == []
    for token in tokens:
        assert token not in kept["shadow"]
        assert token not in kept["properties"]
    assert "token" not in json.dumps(kept)


def test_a_429_says_when_to_try_again(page, service):
    for _ in range(5):  # MAX_CODES_PER_DESTINATION: the sixth code this hour is refused
        assert requests.post(f"{service.url}/auth/register", json=phone_registration(), timeout=10).ok
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    page.locator(f"{FORM} [name=first_name]").fill("Sara")
    page.locator(f"{FORM} [name=phone]").fill("0551234567")

    page.locator(f"{FORM} [part=button]").click()

    expect(page.locator(f"{FORM} [role=alert]")).to_have_text(
        re.compile(r"^Too many tries\. Try again in \d+ seconds\.$")
    )


def test_a_503_says_to_try_again_shortly(page, service):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>", lang="ar"))
    page.locator(f"{FORM} [name=first_name]").fill("سارة")
    page.locator(f"{FORM} [name=phone]").fill("0551234567")
    service.gateway.status = 500
    try:
        page.locator(f"{FORM} [part=button]").click()
        expect(page.locator(f"{FORM} [role=alert]")).to_have_text("الخدمة مشغولة. حاول مرة أخرى بعد قليل.")
    finally:
        service.gateway.status = 200
    assert events(page, "code-sent") == []


def test_the_page_styles_the_element_with_custom_properties_and_parts(page, service):
    style = (
        "<style>registration-form { --registrar-accent: rgb(122, 31, 162); --registrar-radius: 3px; }"
        "registration-form::part(button) { text-transform: uppercase; }"
        "registration-form::part(code) { letter-spacing: 5px; }</style>"
    )
    page.goto(service.shop_page(f"{style}<{FORM}></{FORM}>"))
    submit = page.locator(f"{FORM} [part=button]")

    assert submit.evaluate("(b) => getComputedStyle(b).backgroundColor") == "rgb(122, 31, 162)"
    assert submit.evaluate("(b) => getComputedStyle(b).borderTopLeftRadius") == "3px"
    assert submit.evaluate("(b) => getComputedStyle(b).textTransform") == "uppercase"
    fill_phone_form(page)
    assert code_input(page).evaluate("(i) => getComputedStyle(i).letterSpacing") == "5px"


def test_a_customer_who_typed_the_wrong_number_goes_back_to_the_form_with_the_details_kept(page, service):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    fill_phone_form(page, phone="0559876543")

    page.get_by_role("button", name="Change my details").click()

    expect(page.locator(f"{FORM} [name=first_name]")).to_have_value("Sara")
    page.locator(f"{FORM} [name=phone]").fill("0551234567")
    page.locator(f"{FORM} [part=button]").click()
    assert wait_for_event(page, "code-sent", count=2)["destination"] == "+966 55••••567"
    expect(code_input(page)).to_have_value("")


def test_the_resend_button_stays_usable_when_the_page_switches_language_after_the_countdown(page, service):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    fill_phone_form(page)
    resend = page.locator(f"{FORM} [part=resend]")
    expect(resend).to_be_enabled()  # this service has no resend cooldown

    page.locator(FORM).evaluate("element => element.setAttribute('locale', 'ar')")

    expect(resend).to_have_text("إرسال رمز جديد")
    expect(resend).to_be_enabled()


def test_the_page_may_change_the_preselected_country(page, service):
    page.goto(service.shop_page(f'<{FORM} country="SA"></{FORM}>'))
    expect(page.locator(f"{FORM} [name=country_code]")).to_have_value("SA")

    page.locator(FORM).evaluate("element => element.setAttribute('country', 'AE')")

    expect(page.locator(f"{FORM} [name=country_code]")).to_have_value("AE")


def test_a_resend_that_finds_the_registration_locked_ends_it_with_registration_failed(page, service):
    page.goto(service.shop_page(f"<{FORM}></{FORM}>"))
    fill_phone_form(page)
    registration_id = events(page, "code-sent")[0]["detail"]["registration_id"]
    bad = wrong(service.sms_code("+966551234567"))
    for _ in range(5):  # locked elsewhere, say in another tab
        requests.post(f"{service.url}/auth/register/{registration_id}/verify", json={"code": bad}, timeout=10)

    page.locator(f"{FORM} [part=resend]").click()

    assert wait_for_event(page, "code-not-resent")["code"] == "too_many_attempts"
    assert wait_for_event(page, "registration-failed")["code"] == "too_many_attempts"
    expect(page.locator(f"{FORM} [name=first_name]")).to_be_visible()
