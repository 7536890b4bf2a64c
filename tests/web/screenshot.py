"""The README's screenshot: a short demo conversation on the local stack, the confirmation dialog open."""

from __future__ import annotations

from pathlib import Path

from tests.web.driver import chromium, csp_violations, send, visible, wait_for_message
from tests.web.local import LocalWeb


def demo_screenshot(world: LocalWeb, path: str) -> Path:
    with chromium(width=900, height=760) as driver:
        driver.get(world.url)
        visible(driver, "#sign-in").click()
        visible(driver, "#message")
        send(driver, "What time is it for me?")
        wait_for_message(driver, "agent", "It is ")
        send(driver, "Refund order o-123")
        visible(driver, "dialog#confirm")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(target))
        violations = csp_violations(driver)
        if violations:
            raise RuntimeError(f"CSP violations: {violations}")
    return target
