"""The SMTP sink's record of a message, and the handler that appends it."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.smtp import Envelope

from stack.mailsink import MailboxHandler, message_record


def envelope() -> Envelope:
    msg = EmailMessage()
    msg["Subject"] = "Drift on iris v3 — PSI 0.31"
    msg["From"] = "driftline@localhost"
    msg["To"] = "oncall@example.com"
    msg.set_content("petal_length drifted\n")
    msg.add_alternative("<p>petal_length <b>drifted</b></p>", subtype="html")
    msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="window.csv")
    env = Envelope()
    env.mail_from = "driftline@localhost"
    env.rcpt_tos = ["oncall@example.com", "team@example.com"]
    env.original_content = msg.as_bytes()
    env.content = env.original_content
    return env


def test_message_record_keeps_envelope_headers_parts_and_raw() -> None:
    rec = message_record(envelope(), ("127.0.0.1", 5555))
    assert rec["mail_from"] == "driftline@localhost"
    assert rec["rcpt_tos"] == ["oncall@example.com", "team@example.com"]
    assert rec["subject"] == "Drift on iris v3 — PSI 0.31"
    assert rec["text"] == "petal_length drifted\n"
    assert rec["html"].startswith("<p>petal_length <b>drifted</b></p>")
    assert rec["attachments"] == [{"filename": "window.csv", "content_type": "text/csv"}]
    assert "Subject:" in rec["raw"] and rec["peer"] == ["127.0.0.1", 5555]
    json.dumps(rec)  # serialisable as it is


async def test_handler_appends_one_json_line_per_message(tmp_path: Path) -> None:
    box = tmp_path / "stack" / "mailbox.jsonl"
    handler = MailboxHandler(box)

    class Session:
        peer = ("127.0.0.1", 1)

    for _ in range(2):
        reply = await handler.handle_DATA(None, Session(), envelope())  # type: ignore[arg-type]
        assert reply.startswith("250")
    lines = box.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert json.loads(lines[1])["subject"] == "Drift on iris v3 — PSI 0.31"
