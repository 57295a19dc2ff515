"""Why a message went to ``dead-letters``: a small fixed set of codes, each with its meaning.

The code travels in the dead letter (``reason_code``), is stored beside the human text and
labels ``driftline_dead_letters_total``, so a dashboard never parses message text. Dead letters
are for data that is itself bad; a dependency that is down is never a reason (it is
backpressure: the agent holds its batch until the dependency returns).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    INVALID = "invalid"
    INVALID_PROFILE = "invalid_profile"
    JOIN_EXPIRED = "join_expired"
    JOIN_DUPLICATE = "join_duplicate"
    DATABASE_REJECTED = "database_rejected"
    SMTP_REJECTED = "smtp_rejected"
    INTERNAL_ERROR = "internal_error"

    @property
    def meaning(self) -> str:
        return MEANINGS[self]


MEANINGS: dict[Reason, str] = {
    Reason.EMPTY: "an empty message (a tombstone) where an event belongs",
    Reason.TOO_LARGE: "larger than LIMITS__MAX_PAYLOAD_BYTES (or the profile limit)",
    Reason.NOT_JSON: "the bytes are not JSON",
    Reason.INVALID: "JSON that breaks the event's schema (the text names the field)",
    Reason.INVALID_PROFILE: "a reference profile that cannot be used",
    Reason.JOIN_EXPIRED: "a label whose prediction never arrived, or arrived past the join TTL",
    Reason.JOIN_DUPLICATE: "a second prediction or label for one prediction id",
    Reason.DATABASE_REJECTED: "a row the database refuses as invalid (a constraint, a type)",
    Reason.SMTP_REJECTED: "a mail the SMTP server refused permanently (5xx)",
    Reason.INTERNAL_ERROR: "an error of driftline itself on this one message (a bug: report it)",
}
