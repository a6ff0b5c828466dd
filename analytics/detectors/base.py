"""What every detector is: a small class with two verbs (STYLE.md habit 1).

``score_one(x)`` reads the state and returns a score (higher = more
anomalous, ``None`` when the reading says nothing to this detector);
``learn_one(x)`` updates the state. Evaluation always scores before it
learns. ``x`` is a :class:`Sample`: one device's reading as a plain dict of
fields plus its timestamp. ``state()`` / ``load_state()`` round-trip the
per-device state through JSON-able values so the stage can checkpoint it.

Detectors that speak about an event (``kind``) also say when their score
means "yes": ``alarm`` is the score at or above which the threshold wrapper
(:mod:`analytics.detectors.threshold`) counts a reading as anomalous.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from mimamori.contracts import EventKind, Severity


@dataclass(slots=True)
class Sample:
    """One reading as a detector sees it."""

    ts_ns: int
    fields: dict[str, Any]
    ctx: dict[str, Any] = field(default_factory=dict)  # per-device settings (registry)

    def num(self, name: str) -> float | None:
        v = self.fields.get(name)
        t = type(v)
        if t is float:
            return v  # type: ignore[return-value]
        if t is int:
            return float(v)  # type: ignore[arg-type]
        return None  # missing, bool, text

    def flag(self, name: str) -> bool | None:
        v = self.fields.get(name)
        return v if type(v) is bool else None  # type: ignore[return-value]


class Detector:
    """Base class: subclasses set ``name``, ``kind`` and the slots they keep."""

    name: ClassVar[str] = ""
    kind: ClassVar[EventKind] = EventKind.ANOMALY
    severity: ClassVar[Severity] = Severity.WARNING
    alarm: float = 1.0
    #: an open finding stays open while the score is at or above this
    clear_at: float = 0.5
    #: readings that must be anomalous in a row before a finding opens
    min_duration: int = 1
    #: keep readings that score as anomalous out of the learned baseline
    protect_baseline: bool = False

    #: send an 'updated' finding when the score of an open finding grows
    report_updates: bool = False

    def learn_one(self, x: Sample) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def score_one(self, x: Sample) -> float | None:  # pragma: no cover - interface
        raise NotImplementedError

    def deadline_ns(self, now_ns: int | None = None) -> int | None:
        """When :meth:`score_at` should next be asked (time-driven detectors)."""
        return None

    def score_at(self, now_ns: int) -> float | None:
        """Score with no reading, at a moment (silence-like detectors)."""
        return None

    def evidence(self, x: Sample | None = None) -> dict[str, Any]:
        """Small dict explaining the latest score (put into findings)."""
        return {}

    # -- state ---------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {k: _plain(getattr(self, k)) for k in self._state_keys()}

    def load_state(self, state: dict[str, Any]) -> None:
        if hasattr(self, "_memo"):
            self._memo = None
        for k in self._state_keys():
            if k in state:
                setattr(self, k, _restore(getattr(self, k), state[k]))

    def _state_keys(self) -> tuple[str, ...]:
        return tuple(getattr(self, "STATE", ()))


_SHARED: dict[tuple, tuple] = {}


def shared(settings: tuple) -> tuple:
    """One tuple object for equal settings: a detector that keeps a few
    settings as one attribute (CPython 3.11 shares instance-dict keys only up
    to 30 attributes) then costs a reference a device, not a tuple."""
    return _SHARED.setdefault(settings, settings)


def _plain(v: Any) -> Any:
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(i) for i in v]
    if isinstance(v, dict):
        return {str(k): _plain(i) for k, i in v.items()}
    return v


def _restore(current: Any, value: Any) -> Any:
    if hasattr(current, "tolist"):
        import numpy as np

        return np.asarray(value, dtype=current.dtype).reshape(current.shape)
    return value
