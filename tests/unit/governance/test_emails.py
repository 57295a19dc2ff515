"""E-mail rendering per alert kind: subject, text, escaped HTML."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from governance.emails import KIND_TEXT, render, render_html, render_text
from schemas.events import Alert


def alert(kind: str = "promotion_decision", **over) -> Alert:
    fields = dict(event_id="6f0e0c6e-3c63-4c1b-8a7e-1f1f1f1f1f1f", schema_version=1,
                  model_name="fraud", model_version="3", timestamp="2026-11-27T10:00:00+00:00",
                  kind=kind, severity="medium", subject="driftline: fraud v4 promoted",
                  summary="promoted: every criterion passed", dedup_key="k",
                  details={"candidate_version": "4", "criterion significance": "passed"})
    fields.update(over)
    return Alert(**fields)


@pytest.mark.parametrize("kind", sorted(KIND_TEXT))
def test_every_kind_has_its_own_headline_in_text_and_html(kind):
    a = alert(kind)
    headline = KIND_TEXT[kind][0]
    assert render_text(a).startswith(f"{headline}: fraud (version 3)")
    assert f"<h2>{headline}: fraud" in render_html(a)


def test_message_has_subject_recipients_and_both_alternatives():
    msg = render(alert(), sender="dl@x.test", recipients=["a@x.test", "b@x.test"],
                 now=datetime(2026, 11, 27, tzinfo=UTC))
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "driftline: fraud v4 promoted"
    assert parsed["To"] == "a@x.test, b@x.test" and parsed["From"] == "dl@x.test"
    assert parsed["X-Driftline-Alert-Kind"] == "promotion_decision"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "candidate_version: 4" in text and "Alert id 6f0e0c6e" in html
    with pytest.raises(ValueError):
        render(alert(), sender="dl@x.test", recipients=[])


def test_html_escapes_everything_from_the_alert():
    a = alert(summary="<script>alert(1)</script>", details={"<b>": "&"})
    html = render_html(a)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;" in html and "&amp;" in html
