r"""InfluxDB line protocol, escaped correctly.

>>> line("paddy", {"device_id": "a b", "site": "f=1"}, {"level": 4.5, "ok": True,
...      "n": 3, "note": 'say "hi"'}, 1_700_000_000_000_000_000)
'paddy,device_id=a\\ b,site=f\\=1 level=4.5,ok=true,n=3i,note="say \\"hi\\"" 1700000000000000000'
"""

from __future__ import annotations

import math
from typing import Any

from mimamori.contracts import Reading

_MEAS = str.maketrans({",": r"\,", " ": r"\ "})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})


class LineError(ValueError):
    """A value cannot be written as line protocol."""


def _check_name(s: str, what: str) -> None:
    # InfluxDB 1.x takes a backslash literally except before a character it
    # escapes, so one at the very end would swallow the separator; line
    # breaks end the line. Neither can be written in a name or tag.
    if "\n" in s or "\r" in s:
        raise LineError(f"{what} {s!r} contains a line break")
    if s.endswith("\\") or "\\," in s or "\\=" in s or "\\ " in s:
        raise LineError(f"{what} {s!r} has a backslash at its end or before , = or space")


def escape_measurement(s: str) -> str:
    _check_name(s, "measurement")
    return s.translate(_MEAS)


def escape_key(s: str) -> str:
    """Tag keys, tag values and field keys."""
    _check_name(s, "tag or field name")
    return s.translate(_KEY)


def escape_string_field(s: str) -> str:
    # Inside quotes only backslash and double quote are escaped; a line
    # break is kept as it is.
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_value(v: Any) -> str:
    t = type(v)
    if t is float:
        if not math.isfinite(v):
            raise LineError(f"{v} cannot be stored")
        return repr(v)
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return f"{v}i"
    if t is str:
        return escape_string_field(v)
    raise LineError(f"unsupported field type {t.__name__}")


def line(measurement: str, tags: dict[str, str], fields: dict[str, Any], ts_ns: int) -> str:
    if not fields:
        raise LineError("a point needs at least one field")
    head = escape_measurement(measurement)
    for k in sorted(tags):
        v = tags[k]
        if v:  # empty tag values are not allowed: leave the tag out
            head += f",{escape_key(k)}={escape_key(v)}"
    body = ",".join(f"{escape_key(k)}={format_value(v)}" for k, v in fields.items())
    return f"{head} {body} {ts_ns}"


def reading_to_line(r: Reading, measurement: str | None = None) -> str:
    """Measurement per family; tags device_id, site, profile (low cardinality)."""
    return line(
        measurement or r.family.value,
        {"device_id": r.device_id, "site": r.site, "profile": r.profile},
        r.fields,
        r.ts_ns,
    )
