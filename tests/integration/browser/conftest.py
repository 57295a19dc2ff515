"""A real browser: Debian's chromium (installed by scripts/bootstrap.sh) driven by Playwright,
and a real ``driftline api`` process to point it at.

Chromium runs with the flags this machine needs: headless, no sandbox (tests run as root),
no GPU, and no background traffic to Google's hosts, which a closed network refuses many
times a second. Playwright gives every launch a fresh, empty profile directory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("DRIFTLINE_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: set to a folder (e.g. docs/) to save the pages' screenshots there
SCREENSHOTS = os.environ.get("DRIFTLINE_SCREENSHOTS")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/bootstrap.sh (it installs Debian's "
                    "chromium)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


class Console:
    """Everything a page complains about: console errors and uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.url}"))


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], tuple[Any, Console]]]:
    contexts: list[Any] = []

    def make() -> tuple[Any, Console]:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page, Console(page)

    yield make
    for context in contexts:
        context.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def api_server(base_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``driftline api`` on a free port of this machine, on the test's database."""
    from tests.integration.conftest import DRIFTLINE

    port = free_port()
    env = {**base_env, "API__HOST": "127.0.0.1", "API__PORT": str(port)}
    log = (tmp_path / "api.log").open("w")
    process = subprocess.Popen([DRIFTLINE, "api"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"driftline api exited: {(tmp_path / 'api.log').read_text()[-2000:]}")
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
        log.close()


def screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)
