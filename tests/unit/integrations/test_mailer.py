"""The mailer against a real in-process SMTP server and a closed port."""

from __future__ import annotations

import socket
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from integrations.mailer import Mailer, SmtpConfig, is_transient


class Collect:
    def __init__(self) -> None:
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.received.append(envelope.content)
        return "250 OK"


class Refuse:
    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        return "550 no such user"


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "hello", "a@x.test", "b@x.test"
    msg.set_content("body")
    return msg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


async def test_delivers_on_the_first_attempt(smtp):
    handler, port = smtp
    result = await Mailer(SmtpConfig("127.0.0.1", port)).send(message())
    assert result.delivered and result.attempts == 1
    assert b"Subject: hello" in handler.received[0]


async def test_a_closed_port_is_retried_a_bounded_number_of_times():
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    config = SmtpConfig("127.0.0.1", free_port(), attempts=3, max_seconds=30, backoff_base=0.2,
                        timeout=2)
    result = await Mailer(config, sleep=sleep).send(message())
    assert not result.delivered and result.attempts == 3 and len(sleeps) == 2
    assert "SMTPConnectError" in (result.error or "")


async def test_a_permanent_refusal_is_not_retried():
    controller = Controller(Refuse(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        result = await Mailer(SmtpConfig("127.0.0.1", controller.port, attempts=4)).send(message())
    finally:
        controller.stop()
    assert not result.delivered and result.attempts == 1
    assert result.error and result.error.startswith("permanent:")
    assert not is_transient(ValueError("x")) and is_transient(ConnectionRefusedError())
