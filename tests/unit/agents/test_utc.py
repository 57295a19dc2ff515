"""``utc`` skips parsing a timestamp already in its one spelling, and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from agents.monitoring import utc

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])


@given(st.datetimes(timezones=ZONES), st.sampled_from(["T", " "]),
       st.sampled_from(["auto", "seconds", "milliseconds", "microseconds"]))
def test_utc_is_one_spelling_per_instant(when: datetime, sep: str, timespec: str) -> None:
    text = when.isoformat(sep=sep, timespec=timespec)
    expected = datetime.fromisoformat(text).astimezone(UTC).isoformat()
    assert utc(text) == expected
    assert utc(expected) == expected
