"""The routing tree (Alertmanager style): which escalation policy, which
system receivers and whether quiet hours may be overridden, decided from an
alert's labels. Children inherit every setting they leave as ``None``; the
deepest matching route wins; among siblings the first match wins unless it
sets ``continue_``, in which case later siblings are tried as well.

>>> tree = Route(policy="default", receivers=["mqtt"], routes=[
...     Route(match={"severity": "critical"}, override_quiet=True, routes=[
...         Route(match={"kind": ["fall", "sos"]}, policy="fall")])])
>>> [r.policy for r in tree.resolve({"kind": "fall", "severity": "critical"})]
['fall']
>>> tree.resolve({"kind": "water_low", "severity": "warning"})[0].override_quiet
False
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True, slots=True)
class RouteResult:
    policy: str
    receivers: tuple[str, ...]
    override_quiet: bool
    fanout: str  # "all": every channel of a recipient at once; "first": first, then fall back
    path: str


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = ""
    # label → value or list of values; every label must match
    match: dict[str, str | list[str]] = Field(default_factory=dict)
    policy: str | None = None
    receivers: list[str] | None = None
    override_quiet: bool | None = None
    fanout: str | None = Field(None, pattern="^(all|first)$")
    continue_: bool = Field(False, alias="continue")
    routes: list[Route] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        for k, want in self.match.items():
            v = labels.get(k, "")
            if isinstance(want, list):
                if v not in want:
                    return False
            elif v != want:
                return False
        return True

    def resolve(self, labels: dict[str, str]) -> list[RouteResult]:
        """Routes this alert takes (usually one); the root always matches."""
        base = RouteResult(self.policy or "default", tuple(self.receivers or ()),
                           bool(self.override_quiet), self.fanout or "first",
                           self.name or "root")
        return self._walk(labels, base)

    def _inherit(self, parent: RouteResult) -> RouteResult:
        return RouteResult(
            self.policy if self.policy is not None else parent.policy,
            tuple(self.receivers) if self.receivers is not None else parent.receivers,
            self.override_quiet if self.override_quiet is not None else parent.override_quiet,
            self.fanout if self.fanout is not None else parent.fanout,
            f"{parent.path}/{self.name or ','.join(f'{k}={v}' for k, v in self.match.items())}")

    def _walk(self, labels: dict[str, str], mine: RouteResult) -> list[RouteResult]:
        out: list[RouteResult] = []
        for child in self.routes:
            if not child.matches(labels):
                continue
            out += child._walk(labels, child._inherit(mine))
            if not child.continue_:
                break
        return out or [mine]


def default_route() -> Route:
    """Critical alerts override quiet hours and go out on every channel at once;
    falls and SOS follow the fall policy; a LoRa gateway goes to the operator."""
    return Route(name="root", policy="default", receivers=["mqtt"], routes=[
        Route(name="gateway", match={"kind": "gateway_offline"}, policy="operator"),
        Route(name="critical", match={"severity": "critical"}, override_quiet=True, fanout="all",
              routes=[Route(name="fall", match={"kind": ["fall", "sos"]}, policy="fall")]),
        Route(name="water_main", match={"family": "water_main"}, policy="public_works"),
        Route(name="paddy", match={"family": "paddy"}, policy="farmer"),
    ])
