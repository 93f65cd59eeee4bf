"""axe-core finds no serious or critical problem in either element, at either step, in either language."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.browser.conftest import wait_for_event

pytestmark = pytest.mark.server

SERIOUS = ("serious", "critical")


def serious_violations(page: Page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {[node['target'] for node in v['nodes']]}"
        for v in violations
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_both_elements_and_the_code_step_have_no_serious_accessibility_violation(page, service, lang):
    page.goto(
        service.shop_page(
            '<registration-form verified-by="choice"></registration-form><login-form></login-form>', lang=lang
        )
    )
    page.locator("registration-form [name=first_name]").fill("Sara")
    page.locator("registration-form [name=phone]").fill("12")
    page.locator("registration-form [part=button]").click()
    page.locator("registration-form [aria-invalid=true]").wait_for()
    assert serious_violations(page) == []  # the form, with an error beside a field

    page.locator("registration-form [name=phone]").fill("0551234567")
    page.locator("registration-form [part=button]").click()
    wait_for_event(page, "code-sent")
    page.locator("registration-form [name=code]").press_sequentially("000000")
    page.locator("registration-form [role=alert]:not(:empty)").wait_for()

    assert serious_violations(page) == []  # the code step, after a wrong code
