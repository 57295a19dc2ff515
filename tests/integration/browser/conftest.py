"""Fixtures of the browser tests: Chromium for a module's tests (see support.py for why not
longer), a fresh page per call, and a ``driftline api`` on the test's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.browser.support import Console, chromium, running_api
from tests.integration.browser.support import new_page as _new_page


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[[], tuple[Any, Console]]]:
    pages: list[Any] = []

    def make() -> tuple[Any, Console]:
        page, console = _new_page(browser)
        pages.append(page)
        return page, console

    yield make
    for page in pages:
        page.context.close()


@pytest.fixture
def api_server(base_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``driftline api`` on a free port of this machine, on the test's database."""
    with running_api(base_env, tmp_path / "api.log") as url:
        yield url
