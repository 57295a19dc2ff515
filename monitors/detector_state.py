"""The stored form of online-detector state: a format tag in front of River's pickle.

River detectors are pickled into the changelog. A River upgrade (or a change of ours) can
make old bytes unreadable; without a tag every batch of that model would fail on them
forever. With it, state of an unknown format — or state that does not unpickle — is
reported (:class:`Reset`) and the detector starts afresh from the reference, and the
traffic goes on being monitored. Untagged bytes are the format before the tag (read as is).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

PREFIX = b"DLDS"
#: bump when the pickled tuple changes shape; older tags then read as unknown (and reset)
FORMAT = PREFIX + b"1\x00"


def pack(payload: bytes) -> bytes:
    return FORMAT + payload


def unpack(raw: bytes, load: Callable[[bytes], T], what: str) -> T | None:
    """The state in ``raw``, or None (logged) when it cannot be read and must be reset."""
    if raw.startswith(FORMAT):
        body = raw[len(FORMAT):]
    elif raw.startswith(PREFIX):
        log.warning("%s: detector state of an unknown format %r; starting it afresh",
                    what, raw[:len(FORMAT)])
        return None
    else:
        body = raw  # written before the format tag existed
    try:
        return load(body)
    except Exception as exc:  # noqa: BLE001 - any unreadable state is reset, never fatal
        log.warning("%s: detector state unreadable (%s: %s); starting it afresh", what,
                    exc.__class__.__name__, str(exc)[:200])
        return None
