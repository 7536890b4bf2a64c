"""Headless Debian Chromium through its chromedriver, and the page helpers tests and `make web` share."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from offline.engine import REPO_ROOT

ARTIFACTS = REPO_ROOT / "build" / "test-artifacts"
# Debian's chromium (what .ci/run installs); Google Chrome where a CI image ships it with its driver.
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT_S = 15
# Registered before any page script runs, in every document: the browser's own CSP reports.
CSP_PROBE = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || ''));
  const seen = JSON.parse(sessionStorage.getItem('__csp') || '[]');
  seen.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
  sessionStorage.setItem('__csp', JSON.stringify(seen));
});
"""


def browser_missing() -> str | None:
    if CHROMIUM and CHROMEDRIVER:
        return None
    return "Debian chromium and chromium-driver are not installed (.ci/run installs them)"


@contextmanager
def chromium(width: int = 1100, height: int = 900) -> Iterator[Any]:
    """A headless Chromium with the CSP probe installed in every document it loads."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        f"--window-size={width},{height}",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_PROBE})
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: Any, condition: Any, message: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(condition, message)


def visible(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return wait_for(driver, ec.visibility_of_element_located((By.CSS_SELECTOR, css)), f"{css} never showed")


def messages(driver: Any) -> list[tuple[str, str]]:
    """(kind, text) of each entry of the conversation, read in one script (entries come and go)."""
    entries = driver.execute_script(
        "return [...document.querySelectorAll('#log > li')].map((li) => "
        "[li.className.replace('message', '').trim(), li.querySelector('.text').innerText])"
    )
    return [(kind, text) for kind, text in entries]


def wait_for_message(driver: Any, kind: str, text: str) -> None:
    wait_for(
        driver,
        lambda d: any(k == kind and text in t for k, t in messages(d)),
        f"no {kind} message containing {text!r}; log: {messages(driver)}",
    )


def send(driver: Any, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    # While a turn runs, Enter keeps the text and sends nothing: wait for the page to be idle.
    wait_for(driver, lambda d: d.find_element("id", "send").is_enabled(), "the page stayed busy")
    box = driver.find_element("id", "message")
    box.click()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)  # Enter sends (Shift+Enter would add a line)


def csp_violations(driver: Any) -> list[str]:
    reported = driver.execute_script("return JSON.parse(sessionStorage.getItem('__csp') || '[]')")
    logged = [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]
    return [*reported, *logged]


def screenshot(driver: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path
