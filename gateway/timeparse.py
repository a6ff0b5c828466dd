"""ISO 8601 / RFC 3339 times → integer nanoseconds UTC, keeping all nine
fraction digits (packet forwarders, ChirpStack and TTS send ns or µs).

>>> iso_to_ns("2013-03-31T16:21:17.528002Z")
1364746877528002000
>>> iso_to_ns("2020-01-02T03:04:05.123456789+09:00")
1577901845123456789
>>> iso_to_ns("not a time") is None
True
"""

from __future__ import annotations

import re
from datetime import datetime

_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9})\d*)?"
                 r"\s*(Z|z|GMT|UTC|[+-]\d{2}:?\d{2})?$")


def iso_to_ns(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    m = _RE.match(text.strip())
    if m is None:
        return None
    base, frac, tz = m.groups()
    if tz is None:
        return None  # a time without a zone is ambiguous: refuse it
    if tz in ("Z", "z", "GMT", "UTC"):
        tz = "+00:00"
    elif ":" not in tz:
        tz = tz[:3] + ":" + tz[3:]
    try:
        dt = datetime.fromisoformat(base.replace(" ", "T") + tz)
    except ValueError:
        return None
    return int(dt.timestamp()) * 1_000_000_000 + int((frac or "0").ljust(9, "0"))
