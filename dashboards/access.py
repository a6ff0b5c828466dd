"""Who may see what: object-level access from the registry's relations.

=============  ==============================================================
role           may see
=============  ==============================================================
family         the people they are related to (family_member_of, guardian_of,
               care_manager_of, welfare_for), those people's devices and
               households; a child's or wearer's location only as guardian_of
               or family_member_of
farmer         the fields they are farmer_of, and the devices on them
public_works   every pipe district (and sites they are on_call_for)
admin          everything
=============  ==============================================================

Anything else is "not found" for that user (404, so a guess learns nothing
about who exists); the refused attempt goes to the audit log.

>>> from mimamori.registry import Registry
>>> from dashboards.accounts import User
>>> reg = Registry("sqlite://")
>>> _ = reg.add_person("oba", "wearer"); _ = reg.add_person("hanako", "family")
>>> _ = reg.relate("hanako", "family_member_of", "person", "oba")
>>> s = scope_for(User("hanako", "family", "hanako"), reg)
>>> s.can_person("oba"), s.can_person("someone-else"), s.can_location("oba")
(True, False, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mimamori.registry import Registry

from .accounts import User

PERSON_RELATIONS = ("family_member_of", "guardian_of", "care_manager_of", "welfare_for")
LOCATION_RELATIONS = ("family_member_of", "guardian_of")


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    people: frozenset[str] = field(default_factory=frozenset)
    location_people: frozenset[str] = field(default_factory=frozenset)
    sites: frozenset[str] = field(default_factory=frozenset)
    devices: frozenset[str] = field(default_factory=frozenset)

    def can_person(self, person_id: str) -> bool:
        return self.everything or person_id in self.people

    def can_location(self, person_id: str) -> bool:
        return self.everything or person_id in self.location_people

    def can_site(self, site_id: str) -> bool:
        return self.everything or site_id in self.sites

    def can_device(self, device_id: str) -> bool:
        return self.everything or device_id in self.devices


def scope_for(user: User, registry: Registry) -> Scope:
    if user.role == "admin":
        return Scope(everything=True)
    devices = registry.devices()
    people: set[str] = set()
    location: set[str] = set()
    sites: set[str] = set()
    rels = registry.relations(person_id=user.person_id) if user.person_id else []
    if user.role == "family":
        for r in rels:
            if r.subject_kind == "person" and r.relation in PERSON_RELATIONS:
                people.add(r.subject_id)
                if r.relation in LOCATION_RELATIONS:
                    location.add(r.subject_id)
        devs = {d.device_id for d in devices if d.person_id in people}
        sites = {d.site for d in devices if d.person_id in people and d.site}
    elif user.role == "farmer":
        sites = {r.subject_id for r in rels
                 if r.subject_kind == "site" and r.relation == "farmer_of"}
        devs = {d.device_id for d in devices if d.site in sites}
    elif user.role == "public_works":
        sites = {s.site_id for s in registry.sites() if s.kind == "pipe_district"}
        sites |= {r.subject_id for r in rels
                  if r.subject_kind == "site" and r.relation == "on_call_for"}
        devs = {d.device_id for d in devices if d.site in sites}
    else:
        devs = set()
    return Scope(False, frozenset(people), frozenset(location), frozenset(sites),
                 frozenset(devs))
