"""``driftline keys create|list|revoke``: API keys, the token shown once at creation."""

from __future__ import annotations

import click

from cli.errors import BadInput
from cli.helptext import WholeHelpGroup
from cli.settings_util import load_settings
from storage.audit import cli_entry


def _engine():  # type: ignore[no-untyped-def]
    from storage.db import make_engine

    return make_engine(load_settings().database_url)


@click.group(cls=WholeHelpGroup)
def keys() -> None:
    """Manage API keys (roles: viewer < operator < admin)."""


@keys.command()
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), required=True)
def create(name: str, role: str) -> None:
    """Create a key and print its token (it cannot be shown again)."""
    import re

    from api.models import KEY_NAME_PATTERN
    from storage.keys import ApiKeyError, create_key

    if not re.match(KEY_NAME_PATTERN, name):
        raise BadInput(f"key name {name!r} must match {KEY_NAME_PATTERN}")
    try:
        key, token = create_key(_engine(), name, role, audit=cli_entry("keys create"))
    except ApiKeyError as exc:
        raise BadInput(str(exc)) from None
    click.echo(f"created key {key.name} ({key.role}); its token, shown only now:", err=True)
    click.echo(token)


@keys.command("list")
def list_() -> None:
    """List keys: name, role, token prefix, created, revoked."""
    from storage.keys import list_keys

    for key in list_keys(_engine()):
        revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        click.echo(f"{key.name}\t{key.role}\t{key.prefix}…\t{key.created_at:%Y-%m-%d %H:%M}\t{revoked}")


@keys.command()
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke a key; requests with it get 401 from then on."""
    from storage.keys import ApiKeyError, revoke_key

    try:
        key = revoke_key(_engine(), name, audit=cli_entry("keys revoke"))
    except ApiKeyError as exc:
        raise BadInput(str(exc)) from None
    click.echo(f"revoked key {key.name}")
