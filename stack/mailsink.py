"""An SMTP server that delivers nothing: it keeps every message as one JSON line.

``driftline stack up`` runs it (``python -m stack.mailsink``) so alert e-mails can be sent
for real and then read back (``driftline stack mailbox``, or the file, in tests). It accepts
any sender, recipient and login, without TLS: loopback only, development only.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import signal
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session


def message_record(envelope: Envelope, peer: Any = None) -> dict[str, Any]:
    """The JSON-able form of one received message."""
    raw: bytes = envelope.original_content or envelope.content or b""  # type: ignore[assignment]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text: list[str] = []
    html: list[str] = []
    attachments: list[dict[str, str]] = []
    for part in parsed.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if part.get_content_disposition() == "attachment":
            attachments.append({"filename": part.get_filename() or "", "content_type": kind})
        elif kind in ("text/plain", "text/html"):
            try:
                body = part.get_content()
            except (LookupError, ValueError):  # an unknown charset: keep what can be read
                payload = part.get_payload(decode=True)
                body = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
            (text if kind == "text/plain" else html).append(str(body).replace("\r\n", "\n"))
    return {
        "received_at": datetime.now(UTC).isoformat(),
        "peer": list(peer) if isinstance(peer, tuple) else peer,
        "mail_from": envelope.mail_from,
        "rcpt_tos": list(envelope.rcpt_tos),
        "subject": str(parsed.get("Subject", "")),
        "from": str(parsed.get("From", "")),
        "to": str(parsed.get("To", "")),
        "message_id": str(parsed.get("Message-ID", "")),
        "text": "\n".join(text),
        "html": "\n".join(html),
        "attachments": attachments,
        "raw": raw.decode("utf-8", "replace"),
    }


class MailboxHandler:
    """aiosmtpd handler: append each message to a JSON-lines file."""

    def __init__(self, mailbox: Path) -> None:
        self.mailbox = mailbox
        mailbox.parent.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        line = json.dumps(message_record(envelope, session.peer), ensure_ascii=False)
        # One write per message on one event loop: lines never interleave.
        with self.mailbox.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        return "250 Message accepted for delivery"


def _accept_any_login(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
    return AuthResult(success=True)


async def serve(host: str, port: int, mailbox: Path) -> None:
    handler = MailboxHandler(mailbox)
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        # A fixed hostname: the default looks up the machine's FQDN, which can stall.
        return SMTP(handler, hostname="driftline-mailsink", auth_require_tls=False,
                    authenticator=_accept_any_login, enable_SMTPUTF8=True)

    server = await loop.create_server(factory, host=host, port=port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"mailsink: listening on {host}:{port}, writing {mailbox}", flush=True)
    async with server:
        await stop.wait()
    print("mailsink: stopped", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stack.mailsink", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11025)
    parser.add_argument("--mailbox", type=Path, required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.mailbox))


if __name__ == "__main__":
    main()
