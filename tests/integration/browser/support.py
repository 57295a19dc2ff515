"""A real browser and a real ``driftline api`` for tests: Debian's chromium (installed by
scripts/bootstrap.sh) driven by Playwright's sync API.

Chromium runs with the flags this machine needs: headless, no sandbox (tests run as root),
no GPU, and no background traffic to Google's hosts, which a closed network refuses many
times a second. Playwright gives every launch a fresh, empty profile directory.

While Playwright's sync API is started it keeps an asyncio event loop running in this
thread, and every ``asyncio.run`` — the Kafka helpers of the integration tests — fails with
"cannot be called from a running event loop". So a browser lives only as long as the tests
that need it: :func:`chromium` is a ``with`` block, the ``browser`` fixture a module's.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("DRIFTLINE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: set to a folder (e.g. docs/) to save the pages' screenshots there
SCREENSHOTS = os.environ.get("DRIFTLINE_SCREENSHOTS")


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium, closed (and Playwright stopped) when the block ends."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh (it installs Debian's "
                    "chromium)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Console:
    """Everything a page complains about: console errors and uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", self._failed)

    def _failed(self, request: Any) -> None:
        # net::ERR_ABORTED is the page cancelling its own request because it navigated away
        # (a CI run saw the favicon fetch cut short by the click on "sign out"): no fault of
        # the server's. Any other failure (refused, reset, a 4xx/5xx the browser gives up on)
        # is one.
        reason = request.failure or ""
        if "ERR_ABORTED" not in reason:
            self.errors.append(f"failed: {request.url} ({reason})")


def new_page(browser: Any) -> tuple[Any, Console]:
    """A page in a context of its own (no cookies shared with other pages)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page, Console(page)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_api(env: dict[str, str], log: Path) -> Iterator[str]:
    """``driftline api`` on a free port of this machine, with ``env`` (its database, its
    topics); yields its base URL once ``/health/live`` answers, and stops it afterwards."""
    from tests.integration.conftest import DRIFTLINE

    port = free_port()
    env = {**env, "API__HOST": "127.0.0.1", "API__PORT": str(port)}
    handle = log.open("w")
    process = subprocess.Popen([DRIFTLINE, "api"], env=env, stdout=handle,  # noqa: S603
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"driftline api exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(url + "/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("driftline api did not answer /health/live within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        handle.close()


def sign_in(page: Any, url: str, token: str, then: str = "/ui/models") -> None:
    """Through the login form, as a person would: the key is typed, never put in a URL."""
    page.goto(url + then)
    assert "/ui/login" in page.url
    page.fill("#key", token)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()
    assert page.url == url + then, page.content()[:3000]


def screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)
