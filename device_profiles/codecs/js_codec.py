"""JavaScript codec (TTS / ChirpStack style) behind the profile interface.

Settings (profile ``codec:`` block)::

    kind: js
    file: js/sos_button_v1.js   # relative to the profile file
    timeout_ms: 100             # CPU budget per uplink
    memory_mb: 32
    map:                        # data key (dotted for nested) → field
      battery: battery_pct
      gps.lat: lat

``data`` keys named like a profile field pass through unchanged; ``null``
values are skipped; other keys are reported as warnings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..js_engine import JsCodecError, JsEngine
from ..profile import DecodeResult


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"gps": {"lat": 1}}`` → ``{"gps.lat": 1}``."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


class JsCodec:
    reads_files = True

    def __init__(self, profile: Any, file: str, base_dir: str | None = None,
                 timeout_ms: float = 100.0, memory_mb: int = 32,
                 map: dict[str, Any] | None = None) -> None:
        path = Path(base_dir or ".") / file
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"codec file {file}: {exc.strerror}") from None
        try:
            self.engine = JsEngine(source, name=path.name, timeout_ms=timeout_ms,
                                   memory_mb=memory_mb)
        except JsCodecError as exc:
            raise ValueError(str(exc)) from None
        self.map: dict[str, tuple[str, float, float]] = {}
        for key, target in (map or {}).items():
            if isinstance(target, str):
                self.map[key] = (target, 1.0, 0.0)
            else:
                self.map[key] = (target["field"], float(target.get("scale", 1.0)),
                                 float(target.get("offset", 0.0)))
        for name in profile.fields:
            self.map.setdefault(name, (name, 1.0, 0.0))

    def decode(self, payload: bytes, fport: int | None = None) -> DecodeResult:
        r = self.engine.decode_uplink(payload, fport)
        out = DecodeResult(errors=list(r.errors), warnings=list(r.warnings))
        out.warnings += [f"console {line}" for line in r.logs]
        if out.errors:
            return out
        for key, value in flatten(r.data).items():
            target = self.map.get(key)
            if target is None:
                out.warnings.append(f"ignored unknown data key {key!r}")
                continue
            if value is None:
                continue
            name, scale, offset = target
            if (scale != 1.0 or offset != 0.0) and isinstance(value, (int, float)) \
                    and not isinstance(value, bool):
                value = round(value * scale + offset, 6)
            out.fields[name] = value
        if not out.fields:
            out.errors.append("codec data has no field this profile knows")
        return out
