"""Codecs: bytes → fields. Each is a small module registered by name in
:data:`CODECS`; every codec returns a :class:`DecodeResult` and never raises
into the pipeline.

* ``json`` — JSON objects, key → field mapping with unit conversion;
* ``binary`` — declarative fixed layouts per FPort (compiled with struct);
* ``cayenne_lpp`` — Cayenne Low Power Payload;
* ``js`` — The Things Stack / ChirpStack JavaScript codecs in QuickJS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from .binary_codec import BinaryCodec
from .cayenne_lpp import CayenneLppCodec
from .js_codec import JsCodec
from .json_codec import JsonCodec

if TYPE_CHECKING:
    from ..profile import CodecSpec, DecodeResult, Profile


class Codec(Protocol):
    def decode(self, payload: bytes, fport: int | None) -> DecodeResult: ...


CODECS: dict[str, Any] = {
    "json": JsonCodec,
    "binary": BinaryCodec,
    "cayenne_lpp": CayenneLppCodec,
    "js": JsCodec,
}


def build_codec(spec: CodecSpec, profile: Profile) -> Codec:
    cls = CODECS.get(spec.kind)
    if cls is None:
        raise ValueError(f"unknown codec kind {spec.kind!r} (known: {', '.join(sorted(CODECS))})")
    settings = spec.model_dump(exclude={"kind"})
    base_dir = settings.pop("base_dir", None)
    if getattr(cls, "reads_files", False):
        settings["base_dir"] = base_dir
    try:
        return cls(profile=profile, **settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValueError(f"codec {spec.kind}: {where}: {first['msg']}") from None
