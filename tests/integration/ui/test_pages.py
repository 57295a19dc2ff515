"""The model pages through HTTP, on SQLite and PostgreSQL: sign-in, the session cookie,
what each role can reach, CSRF, and a model's drift, performance and loop history."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration
ORIGIN = {"Origin": "http://testserver"}


def sign_in(client: TestClient, token: str, next_page: str = "/ui/models") -> None:
    response = client.post("/ui/login", data={"key": token, "next": next_page}, headers=ORIGIN,
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == next_page


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_pages_need_a_session_and_the_key_never_travels_in_a_url(ui_client, ui_keys, model) -> None:
    response = ui_client.get(f"/ui/models/{model}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/ui/login?next=%2Fui%2Fmodels%2F{model}"
    form = ui_client.get(response.headers["location"])
    assert form.status_code == 200 and 'type="password"' in form.text and 'method="post"' in form.text

    login = ui_client.post("/ui/login", data={"key": ui_keys.viewer, "next": f"/ui/models/{model}"},
                           headers=ORIGIN, follow_redirects=False)
    assert login.status_code == 303 and ui_keys.viewer not in login.headers["location"]
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert ui_keys.viewer not in cookie  # the cookie names the key, it does not carry it
    page = ui_client.get(f"/ui/models/{model}")
    assert page.status_code == 200
    assert ui_keys.viewer not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_a_wrong_key_is_refused_and_a_foreign_next_is_ignored(ui_client, ui_keys) -> None:
    bad = ui_client.post("/ui/login", data={"key": "dl_not-a-key"}, headers=ORIGIN)
    assert bad.status_code == 401 and "Unknown or revoked API key" in bad.text
    assert "set-cookie" not in bad.headers
    sign_in_response = ui_client.post("/ui/login", data={"key": ui_keys.viewer,
                                                         "next": "//evil.example/ui/x"},
                                      headers=ORIGIN, follow_redirects=False)
    assert sign_in_response.headers["location"] == "/ui/models"


def test_a_cross_site_login_post_is_refused(ui_client, ui_keys) -> None:
    response = ui_client.post("/ui/login", data={"key": ui_keys.viewer},
                              headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_the_models_page_lists_the_model_with_its_alert(ui_client, ui_keys, model) -> None:
    sign_in(ui_client, ui_keys.viewer)
    page = ui_client.get("/ui/models").text
    row = re.search(rf'<tr data-model="{model}">(.*?)</tr>', page, re.S)
    assert row, page
    assert "ALERT ongoing" in row.group(1)
    assert "2 of 4" in row.group(1)  # x1 and the prediction drifted in the latest window


def test_the_model_page_shows_drift_performance_and_the_loop(ui_client, ui_keys, model) -> None:
    sign_in(ui_client, ui_keys.viewer)
    page = ui_client.get(f"/ui/models/{model}").text
    heatmap = re.search(r'<table class="heatmap" id="heatmap">(.*?)</table>', page, re.S)
    assert heatmap
    rows = dict(re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', heatmap.group(1), re.S))
    assert list(rows) == ["income", "region", "x1", "prediction"]  # inputs, then outputs
    x1 = re.findall(r'<td class="(s-[a-z]+)"', rows["x1"])
    assert x1 == ["s-none"] * 3 + ["s-high"] * 3
    assert re.findall(r'<td class="(s-[a-z]+)"', rows["income"]) == ["s-none"] * 6
    # performance: the realized series, the reference line and its band
    figure = re.search(r'<figure class="metric" data-metric="accuracy">(.*?)</figure>', page, re.S)
    assert figure and "<svg" in figure.group(1) and 'class="band"' in figure.group(1)
    assert 'class="line realized"' in figure.group(1) and "6 realized windows" in figure.group(1)
    assert "data drift on x1" in page and "accuracy fell to 0.74" in page
    assert "data drift fired on x1" in page  # the retrain decision's reason
    assert f"job-{model}" in page and "succeeded" in page
    # each criterion whole, the McNemar p-value included
    assert "significance: passed — p_value 3.20e-11, test mcnemar_exact" in page
    assert "holdout_size: passed — value 812, minimum 200" in page
    assert 'id="window-report"' in page


def test_estimated_performance_is_drawn_when_its_rows_exist(ui_client, ui_keys, store, unique) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.integration.ui.history import seed_history

    name = f"{unique}-estimated"
    seed_history(store.engine, name, datetime.now(UTC) - timedelta(hours=1), estimated=True)
    sign_in(ui_client, ui_keys.viewer)
    page = ui_client.get(f"/ui/models/{name}").text
    assert 'class="line estimated"' in page and "6 estimated" in page


def test_the_window_report_is_one_self_contained_page(ui_client, ui_keys, model) -> None:
    sign_in(ui_client, ui_keys.viewer)
    report = ui_client.get(f"/ui/report/{model}")
    assert report.status_code == 200
    assert "2 of 4 drifted" in report.text
    assert report.text.count('class="column drifted"') == 2
    # each verdict in the words of detect's report, its gate read against the worker's policy
    assert "drifted: KS significant (adjusted p 3e-09, α 0.05), passed on PSI: PSI 0.3 ≥ 0.1" \
        in report.text
    assert not re.search(r"<(link|script|img)\b", report.text)


def test_a_viewer_sees_no_operator_action_and_cannot_use_one(ui_client, ui_keys, model) -> None:
    sign_in(ui_client, ui_keys.viewer)
    page = ui_client.get(f"/ui/models/{model}").text
    assert 'id="retrain-form"' not in page and 'id="export-link"' not in page
    token = csrf(page)  # the logout form's
    refused = ui_client.post(f"/ui/retrain/{model}", data={"csrf": token, "reason": "x"},
                             headers=ORIGIN)
    assert refused.status_code == 403 and "operator role" in refused.text
    assert ui_client.get(f"/ui/export/{model}").status_code == 403


def test_an_operator_requests_a_retrain_through_the_form(ui_client, ui_keys, model) -> None:
    sign_in(ui_client, ui_keys.operator)
    page = ui_client.get(f"/ui/models/{model}").text
    assert 'id="retrain-form"' in page and 'id="export-link"' in page
    token = csrf(page)
    # without the page's CSRF token, or from another site, the form does nothing
    assert ui_client.post(f"/ui/retrain/{model}", data={"reason": "x"},
                          headers=ORIGIN).status_code == 403
    assert ui_client.post(f"/ui/retrain/{model}", data={"csrf": token},
                          headers={"Origin": "https://evil.example"}).status_code == 403
    done = ui_client.post(f"/ui/retrain/{model}", data={"csrf": token, "reason": "saw it"},
                          headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert "Retrain%20requested" in done.headers["location"]


def test_logout_and_revocation_end_the_session(ui_client, ui_keys, model, store) -> None:
    from storage.keys import revoke_key

    sign_in(ui_client, ui_keys.viewer)
    cookie = ui_client.cookies.get("driftline_session")
    page = ui_client.get("/ui/models").text
    out = ui_client.post("/ui/logout", data={"csrf": csrf(page)}, headers=ORIGIN,
                         follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert ui_client.get("/ui/models", follow_redirects=False).status_code == 303
    # the old cookie, replayed, is dead too
    ui_client.cookies.set("driftline_session", cookie, path="/ui")
    assert ui_client.get("/ui/models", follow_redirects=False).status_code == 303

    ui_client.cookies.clear()
    sign_in(ui_client, ui_keys.viewer)
    assert ui_client.get("/ui/models", follow_redirects=False).status_code == 200
    revoke_key(store.engine, ui_keys.names["viewer"])
    assert ui_client.get("/ui/models", follow_redirects=False).status_code == 303


def test_a_forged_cookie_is_no_session(ui_client, ui_keys) -> None:
    sign_in(ui_client, ui_keys.operator)
    value = ui_client.cookies.get("driftline_session")
    body, _, signature = value.partition(".")
    ui_client.cookies.clear()
    # a character in the middle changed (the last one of base64 can carry ignored bits, and
    # ending the forgery in "AA" left it valid when the signature ended so: once in 1,024)
    forged = signature[:10] + ("B" if signature[10] == "A" else "A") + signature[11:]
    ui_client.cookies.set("driftline_session", body + "." + forged, path="/ui")
    assert ui_client.get("/ui/models", follow_redirects=False).status_code == 303


def test_an_unknown_model_is_a_404_page(ui_client, ui_keys, unique) -> None:
    sign_in(ui_client, ui_keys.viewer)
    assert ui_client.get(f"/ui/models/{unique}-none").status_code == 404
    assert ui_client.get("/ui/models/bad%20name!").status_code == 404


def test_a_model_whose_name_holds_slashes_is_reached_on_every_route(
        ui_client, ui_keys, store, unique) -> None:
    """Names may hold ``/``; one ending like a sub-page (``…/report``) must not be taken for
    another model's sub-page."""
    from datetime import UTC, datetime, timedelta
    from urllib.parse import unquote

    from tests.integration.ui.history import seed_history

    name = f"team/{unique}/report"
    seed_history(store.engine, name, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    sign_in(ui_client, ui_keys.operator)
    listing = ui_client.get("/ui/models").text
    link = re.search(rf'<tr data-model="{re.escape(name)}">.*?<a href="([^"]+)"', listing, re.S)
    assert link and unquote(link.group(1)) == f"/ui/models/{name}"
    page = ui_client.get(link.group(1))
    assert page.status_code == 200 and f"<h1>{name}</h1>" in page.text
    assert 'id="heatmap"' in page.text and "6 realized windows" in page.text
    # the page's own links and forms reach the same model
    for target in re.findall(r'(?:href|action)="(/ui/(?:report|export|retrain|cancel)/[^"]+)"',
                             page.text):
        assert unquote(target).endswith(f"/{name}"), target
    report = ui_client.get(f"/ui/report/{name}")
    assert report.status_code == 200 and f"Window report — {name}" in report.text
    if store.kind == "postgresql":  # the export route reads JSON with PostgreSQL's functions
        export = ui_client.get(f"/ui/export/{name}")  # the seed has no labelled predictions
        assert export.status_code == 404
        assert f"model {name!r}" in export.text.replace("&#39;", "'")
    token = csrf(page.text)
    done = ui_client.post(f"/ui/retrain/{name}", data={"csrf": token, "reason": "slashes"},
                          headers=ORIGIN, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert unquote(done.headers["location"]).startswith(f"/ui/models/{name}?notice=Retrain")
    finished = ui_client.post(f"/ui/cancel/{name}", data={"csrf": token, "job_id": f"job-{name}"},
                              headers=ORIGIN)
    assert finished.status_code == 409 and "already succeeded" in finished.text
    # the model named like the sub-page of another is not that sub-page, and vice versa
    assert ui_client.get(f"/ui/models/team/{unique}").status_code == 404
    assert ui_client.get(f"/ui/report/team/{unique}").status_code == 404
