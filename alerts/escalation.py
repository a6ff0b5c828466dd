"""Escalation policies per alert kind, and the pure arithmetic of when the
next step or reminder is due. Acknowledgement stops the chain (the store
clears ``next_action_ns``).

A target names who a step reaches:

* ``family_member_of#1`` — the first (by priority) person related to the
  device's subject that way; ``family_member_of`` — all of them;
* ``kind:operator`` — every person of that kind in the registry;
* ``person:p-17`` — one named person; ``receiver:town`` — a system receiver.

>>> p = default_policies()["fall"]
>>> [s.after_s for s in p.steps]
[0.0, 300.0, 900.0]
>>> [round(p.reminders.delay(n)) for n in range(4)]
[600, 1200, 2400, 3600]
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mimamori.registry import Person, Relation


class Reminders(BaseModel):
    """Repeat to everyone already told, at a slowing rate."""

    model_config = ConfigDict(extra="forbid")
    first_s: float = Field(600.0, gt=0)
    factor: float = Field(2.0, ge=1.0)
    max_s: float = Field(3600.0, gt=0)
    count: int = Field(4, ge=0)

    def delay(self, n: int) -> float:
        """Seconds from reminder ``n-1`` (or the last step) to reminder ``n``."""
        return min(self.first_s * self.factor ** n, self.max_s)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after_s: float = Field(0.0, ge=0)
    notify: list[str]

    @field_validator("notify")
    @classmethod
    def _check(cls, v: list[str]) -> list[str]:
        for t in v:
            parse_target(t)
        return v


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: list[Step]
    reminders: Reminders | None = None

    @field_validator("steps")
    @classmethod
    def _ordered(cls, v: list[Step]) -> list[Step]:
        if not v:
            raise ValueError("a policy needs at least one step")
        if any(b.after_s < a.after_s for a, b in zip(v, v[1:])):
            raise ValueError("steps must be in order of after_s")
        return v

    def next_action(self, opened_ns: int, steps_done: int, reminders_sent: int,
                    last_step_ns: int | None = None) -> int | None:
        """When the next step or reminder is due (ns), or None when the chain ends."""
        if steps_done < len(self.steps):
            return opened_ns + int(self.steps[steps_done].after_s * 1e9)
        r = self.reminders
        if r is None or reminders_sent >= r.count:
            return None
        since = last_step_ns or opened_ns + int(self.steps[-1].after_s * 1e9)
        return since + int(r.delay(reminders_sent) * 1e9)


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # relation | person_kind | person | receiver
    value: str
    rank: int | None = None


def parse_target(text: str) -> Target:
    """
    >>> parse_target("family_member_of#2")
    Target(kind='relation', value='family_member_of', rank=2)
    >>> parse_target("kind:operator")
    Target(kind='person_kind', value='operator', rank=None)
    """
    if ":" in text:
        prefix, value = text.split(":", 1)
        kinds = {"kind": "person_kind", "person": "person", "receiver": "receiver"}
        if prefix not in kinds or not value:
            raise ValueError(f"unknown target {text!r}")
        return Target(kinds[prefix], value)
    name, _, rank = text.partition("#")
    if not name:
        raise ValueError(f"empty target {text!r}")
    if rank and (not rank.isdigit() or int(rank) < 1):
        raise ValueError(f"rank in {text!r} must be a positive number")
    return Target("relation", name, int(rank) if rank else None)


def select_people(targets: list[str], watchers: list[tuple[Relation, Person]],
                  people_by_kind: dict[str, list[Person]] | None = None,
                  people_by_id: dict[str, Person] | None = None) -> tuple[list[Person], list[str]]:
    """People and system receivers a step reaches (each once, in order).

    >>> from mimamori.registry import Relation, Person
    >>> w = [(Relation("a", "family_member_of", "person", "s", 1), Person("a", "family")),
    ...      (Relation("b", "family_member_of", "person", "s", 2), Person("b", "family")),
    ...      (Relation("c", "care_manager_of", "person", "s", 1), Person("c", "care_manager"))]
    >>> [p.person_id for p in select_people(["family_member_of#2", "care_manager_of"], w)[0]]
    ['b', 'c']
    """
    out: list[Person] = []
    receivers: list[str] = []
    seen: set[str] = set()

    def add(p: Person) -> None:
        if p.person_id not in seen:
            seen.add(p.person_id)
            out.append(p)

    for text in targets:
        t = parse_target(text)
        if t.kind == "relation":
            matching = [p for r, p in watchers if r.relation == t.value]
            if t.rank is None:
                for p in matching:
                    add(p)
            elif len(matching) >= t.rank:
                add(matching[t.rank - 1])
        elif t.kind == "person_kind":
            for p in (people_by_kind or {}).get(t.value, []):
                add(p)
        elif t.kind == "person":
            p = (people_by_id or {}).get(t.value)
            if p is not None:
                add(p)
        else:
            receivers.append(t.value)
    return out, receivers


def default_policies() -> dict[str, Policy]:
    """The ladder of DOMAIN.md §1.7, shortened to what a message can do."""
    return {
        "fall": Policy(steps=[
            Step(after_s=0, notify=["family_member_of#1", "guardian_of#1"]),
            Step(after_s=300, notify=["family_member_of#2", "guardian_of#2", "care_manager_of"]),
            Step(after_s=900, notify=["welfare_for"]),
        ], reminders=Reminders(first_s=600, factor=2, max_s=3600, count=4)),
        "default": Policy(steps=[
            Step(after_s=0, notify=["family_member_of#1", "guardian_of#1"]),
            Step(after_s=1800, notify=["family_member_of", "guardian_of", "care_manager_of"]),
        ], reminders=Reminders(first_s=3600, factor=2, max_s=6 * 3600, count=2)),
        "farmer": Policy(steps=[Step(after_s=0, notify=["farmer_of"])],
                         reminders=Reminders(first_s=3600, factor=2, max_s=6 * 3600, count=2)),
        "public_works": Policy(steps=[
            Step(after_s=0, notify=["on_call_for#1"]),
            Step(after_s=900, notify=["on_call_for"]),
        ], reminders=Reminders(first_s=1800, factor=2, max_s=4 * 3600, count=3)),
        "operator": Policy(steps=[Step(after_s=0, notify=["kind:operator"])],
                           reminders=Reminders(first_s=3600, factor=2, max_s=6 * 3600, count=2)),
    }
