"""Codecs: bytes → fields. Each is a small module registered by name in
:data:`CODECS`; every codec returns a :class:`DecodeResult` and never raises
into the pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .json_codec import JsonCodec

if TYPE_CHECKING:
    from ..profile import CodecSpec, DecodeResult, Profile


class Codec(Protocol):
    def decode(self, payload: bytes, fport: int | None) -> DecodeResult: ...


CODECS: dict[str, Any] = {
    "json": JsonCodec,
}


def build_codec(spec: CodecSpec, profile: Profile) -> Codec:
    cls = CODECS.get(spec.kind)
    if cls is None:
        raise ValueError(f"unknown codec kind {spec.kind!r} (known: {', '.join(sorted(CODECS))})")
    settings = spec.model_dump(exclude={"kind"})
    return cls(profile=profile, **settings)
