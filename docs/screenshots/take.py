"""`make screenshots`: <registration-form> at its two steps, in English and in Arabic, as Debian's
Chromium draws them, into docs/screenshots/*.png for the README.

It starts the service as `make run` does (`python -m app serve`), in a fresh instance folder with
the embedded Redis and SQLite, opens the demo page, and photographs the element.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Locator, Page, sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MARGIN = 16
DETAILS = {
    "en": {"first_name": "Sara", "last_name": "Al-Qahtani", "phone": "0551234567"},
    "ar": {"first_name": "سارة", "last_name": "القحطاني", "phone": "0559876543"},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(instance: Path, port: int, log) -> subprocess.Popen:
    """The service on `port` with nothing but its defaults, ready once /readyz says so."""
    environment = {
        name: value for name, value in os.environ.items() if name not in ("REDIS_URL", "DATABASE_URL")
    }
    environment.update(INSTANCE_PATH=str(instance), PORT=str(port), BIND_HOST="127.0.0.1", DEMO_PAGE="true")
    command = [sys.executable, "-m", "app", "serve"]
    service = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and service.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return service
        except OSError:
            time.sleep(0.2)
    service.terminate()
    raise SystemExit("screenshots: the service did not start")


def photograph(page: Page, element: Locator, name: str) -> None:
    box = element.bounding_box()
    clip = {
        "x": max(box["x"] - MARGIN, 0),
        "y": max(box["y"] - MARGIN, 0),
        "width": box["width"] + 2 * MARGIN,
        "height": box["height"] + 2 * MARGIN,
    }
    page.screenshot(path=HERE / f"{name}.png", clip=clip)
    print(f"screenshots: docs/screenshots/{name}.png")


def take(page: Page, url: str, locale: str) -> None:
    page.goto(url)
    page.get_by_label("Language / اللغة").select_option(locale)
    form = page.locator("registration-form")
    for name, value in DETAILS[locale].items():
        form.locator(f"[name={name}]").fill(value)
    photograph(page, form, f"registration-form-{locale}")
    form.locator("[part=button]").click()
    form.locator("[name=code]").press_sequentially("12")
    photograph(page, form, f"registration-code-{locale}")


def main() -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("screenshots: install Debian's chromium first (apt-get install chromium)")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder, open(Path(folder) / "serve.log", "wb") as log:
        service = serve(Path(folder) / "instance", port, log)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium)
                page = browser.new_page(viewport={"width": 900, "height": 900}, device_scale_factor=1)
                for locale in DETAILS:
                    take(page, f"http://127.0.0.1:{port}/", locale)
                browser.close()
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
