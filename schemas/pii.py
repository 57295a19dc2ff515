"""Pseudonymising personal data before anything is stored.

A configured field's value, wherever it sits in a JSON-like object (nested objects and
lists included), is replaced by a keyed HMAC-SHA256 of its canonical JSON. Equal values
map to equal digests, so rows can still be grouped and joined, but without the key the
original cannot be recovered or confirmed by guessing. Pure: no settings, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

#: Prefix of a hashed value, so a reader can tell pseudonyms from data.
PREFIX = "hmac-sha256:"


def pseudonym(value: Any, key: bytes) -> str:
    """The keyed digest of one value (a string is hashed as itself, others as JSON).

    >>> pseudonym("alice@example.com", b"k" * 16) == pseudonym("alice@example.com", b"k" * 16)
    True
    >>> pseudonym("a", b"k" * 16).startswith(PREFIX)
    True
    """
    if isinstance(value, str):
        if value.startswith(PREFIX):  # already a pseudonym: hashing twice would break joins
            return value
        data = value.encode()
    else:
        data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return PREFIX + hmac.new(key, data, hashlib.sha256).hexdigest()


def hash_pii(obj: Any, fields: Iterable[str], key: bytes | None) -> Any:
    """A copy of ``obj`` with the value of every key named in ``fields`` pseudonymised.

    Names match case-insensitively at any depth; ``None`` values stay ``None``. With no
    fields the object is returned unchanged; fields without a key is a programming error.

    >>> hash_pii({"user": {"Email": "a@b.c"}, "n": 1}, ["email"], b"k" * 16)["user"]["Email"][:12]
    'hmac-sha256:'
    >>> hash_pii({"n": 1}, [], None)
    {'n': 1}
    """
    names = frozenset(name.lower() for name in fields)
    if not names:
        return obj
    if key is None:
        raise ValueError("PII fields are configured but no HMAC key was given")
    return _walk(obj, names, key)


def _walk(obj: Any, names: frozenset[str], key: bytes) -> Any:
    if isinstance(obj, dict):
        return {
            k: (None if v is None else pseudonym(v, key))
            if isinstance(k, str) and k.lower() in names
            else _walk(v, names, key)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [_walk(item, names, key) for item in obj]
    return obj
