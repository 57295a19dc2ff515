"""The model pages in headless Chromium against a real `driftline api`: sign in with a key,
the heatmap and charts drawn, no console error, viewer vs operator, sign out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.browser.support import screenshot, sign_in
from tests.integration.ui.history import FEATURES, WINDOWS, seed_history

pytestmark = pytest.mark.integration


@pytest.fixture
def seeded(engine, unique: str) -> dict[str, str]:
    from storage.keys import create_key

    model = f"{unique}-churn"
    seed_history(engine, model, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    tokens = {role: create_key(engine, f"{unique}-{role}", role)[1]
              for role in ("viewer", "operator")}
    return {"model": model, **tokens}


def test_a_viewer_reads_the_model_page_and_cannot_act(api_server, new_page, seeded) -> None:
    page, console = new_page()
    sign_in(page, api_server, seeded["viewer"])
    row = page.locator(f'tr[data-model="{seeded["model"]}"]')
    assert "ALERT ongoing" in row.inner_text()
    screenshot(page, "ui-models.png")
    row.locator("a").click()
    page.wait_for_url(f"**/ui/models/{seeded['model']}")
    heatmap = page.locator("#heatmap")
    assert heatmap.locator("tbody tr").count() == len(FEATURES) + 1
    assert heatmap.locator("tbody td").count() == (len(FEATURES) + 1) * WINDOWS
    assert heatmap.locator("td.s-high").count() == 3  # x1 in the last three windows
    chart = page.locator('figure[data-metric="accuracy"] svg.chart')
    assert chart.count() == 1 and chart.locator("path.line.realized").count() == 1
    assert chart.locator("rect.band").count() == 1
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300
    assert "mcnemar_exact" in page.locator("#promotions").inner_text()
    assert page.locator("#retrain-form").count() == 0
    assert page.locator("#export-link").count() == 0
    # the cookie is out of scripts' reach
    assert page.evaluate("document.cookie") == ""
    cookie = next(c for c in page.context.cookies() if c["name"] == "driftline_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert seeded["viewer"] not in page.url
    screenshot(page, "ui-model.png")
    page.click("#logout")
    page.wait_for_url("**/ui/login")
    page.goto(api_server + f"/ui/models/{seeded['model']}")
    assert "/ui/login" in page.url
    assert console.errors == []


def test_an_operator_requests_a_retrain_from_the_page(api_server, new_page, seeded) -> None:
    page, console = new_page()
    sign_in(page, api_server, seeded["operator"])
    page.goto(api_server + f"/ui/models/{seeded['model']}")
    assert page.locator("#export-link").count() == 1
    page.fill("#retrain-form input[name=reason]", "checked by a person")
    page.click("#retrain-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert "Retrain requested" in page.locator(".notice").inner_text()
    assert console.errors == []
