"""What the detectors need to know about each person and place, with
defaults from DOMAIN.md. Stored in the registry's ``settings`` JSON (people
and sites), validated with these models on every write; readers get the
effective settings (defaults filled in) from :func:`effective_settings`.

* wearer (person): safe zones, waking hours, wake time, outing windows;
* child (person): home, school, school route (a corridor along a polyline),
  usual arrival times, school calendar;
* field (site): crop calendar (transplanting, 中干し, heading, final
  drainage) and the target water band per stage;
* pipe_district (site): normal and legal pressure range, night-flow window;
* household, school (site): fence radius, bell times.

>>> s = effective_settings("site", "field", {"calendar": {"heading": "07-25"}})
>>> s["calendar"]["transplant"], s["water_band_cm"]["heading"]
('05-01', {'low': 5.0, 'high': 10.0})
>>> FieldSettings.model_validate(s).stage_on(date(2026, 6, 10))
'nakaboshi'
>>> validate_settings("site", "pipe_district", {"pressure_min_mpa": 0.9})
Traceback (most recent call last):
...
mimamori.watch_settings.SettingsError: pipe_district settings: pressure_min_mpa 0.9 must be below pressure_max_mpa 0.74
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

HHMM = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM local time")]
MMDD = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
                            description="MM-DD, every year")]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]


class SettingsError(ValueError):
    """Settings that do not validate; the message names the key and the problem."""


class _Model(BaseModel):
    model_config = {"extra": "forbid"}


class Place(_Model):
    name: str = ""
    lat: Lat
    lon: Lon
    # DOMAIN §1.5: home fence radius max(50 m, 2 × reported accuracy)
    radius_m: float = Field(50.0, ge=10, le=5000)


class Band(_Model):
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self) -> Band:
        if self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        return self


# --- people -----------------------------------------------------------------
class WearerSettings(_Model):
    """An elderly or disabled wearer (DOMAIN §1.4–1.6)."""

    safe_zones: list[Place] = Field(default_factory=list)  # empty: the household site, 50 m
    waking_hours: tuple[HHMM, HHMM] = ("06:00", "22:00")  # daytime-inactivity window
    usual_wake_time: HHMM = "07:00"
    wake_grace_h: float = Field(2.0, gt=0, le=12)  # "wake-up missing" after this
    inactivity_floor_h: float = Field(3.0, gt=0, le=24)
    not_worn_after_h: float = Field(12.0, gt=0, le=72)
    outing_windows: list[tuple[HHMM, HHMM]] = Field(
        default_factory=lambda: [("09:00", "17:00")])
    may_go_out_alone: bool = True
    night_hours: tuple[HHMM, HHMM] = ("22:00", "05:00")  # night exits are high severity
    heart_rate_bpm: Band = Band(low=40, high=130)  # absolute guard rails at rest
    spo2_low_pct: float = Field(90.0, ge=70, le=100)


class SchoolCalendar(_Model):
    school_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])  # Mon=0
    holidays: list[date] = Field(default_factory=list)
    trip_days: list[date] = Field(default_factory=list)  # off-route is expected
    breaks: list[tuple[date, date]] = Field(default_factory=list)  # summer etc.

    @field_validator("school_days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 6 for d in v):
            raise ValueError("school_days are 0 (Monday) … 6 (Sunday)")
        return sorted(set(v))

    def is_school_day(self, d: date) -> bool:
        if d.weekday() not in self.school_days or d in self.holidays:
            return False
        return not any(a <= d <= b for a, b in self.breaks)


class ChildSettings(_Model):
    """A child with a location tag (DOMAIN §2)."""

    home: Place | None = None
    school: Place | None = None
    school_site: str | None = None  # a site of kind school, instead of school:
    route: list[tuple[Lat, Lon]] = Field(default_factory=list)  # polyline home → school
    corridor_m: float = Field(50.0, ge=10, le=500)  # either side of the route
    school_arrival: HHMM = "08:15"  # bell
    late_after_min: int = Field(15, ge=0, le=180)
    school_departure: HHMM = "15:30"
    home_by: HHMM = "16:30"
    home_late_after_min: int = Field(30, ge=0, le=240)
    calendar: SchoolCalendar = SchoolCalendar()

    @field_validator("route")
    @classmethod
    def _route(cls, v: list) -> list:
        if len(v) == 1:
            raise ValueError("a route needs at least two points (or none)")
        return v


class PersonSettings(_Model):
    """Family, care managers, farmers, staff: nothing the detectors need."""

    model_config = {"extra": "allow"}


# --- sites ------------------------------------------------------------------
STAGES = ("transplant", "tillering", "nakaboshi", "panicle", "heading", "grain_filling",
          "drained")


class CropCalendar(_Model):
    """Mie defaults (DOMAIN §3.1): early-season Koshihikari."""

    transplant: MMDD = "05-01"
    tillering: MMDD = "05-08"  # ~7 days after transplant
    nakaboshi_start: MMDD = "06-05"  # 中干し, ~30–40 days after transplant
    nakaboshi_end: MMDD = "06-15"  # 7–10 days
    heading: MMDD = "07-20"
    grain_filling: MMDD = "07-30"  # keep flooded ~7–10 days after heading
    final_drainage: MMDD = "08-15"  # 落水, ~25–30 days after heading

    @model_validator(mode="after")
    def _order(self) -> CropCalendar:
        names = ["transplant", "tillering", "nakaboshi_start", "nakaboshi_end", "heading",
                 "grain_filling", "final_drainage"]
        values = [getattr(self, n) for n in names]
        for (a, va), (b, vb) in zip(zip(names, values), zip(names[1:], values[1:])):
            if va > vb:
                raise ValueError(f"{a} ({va}) comes after {b} ({vb})")
        return self


def _default_bands() -> dict[str, Band]:
    # DOMAIN §3.1 target depths per stage, in cm
    return {
        "transplant": Band(low=4, high=7),
        "tillering": Band(low=2, high=3),
        "nakaboshi": Band(low=-10, high=1),  # drained: "too low" is expected
        "panicle": Band(low=0, high=5),  # 間断灌漑 (alternate flooding / draining)
        "heading": Band(low=5, high=10),
        "grain_filling": Band(low=0, high=5),  # intermittent / 飽水
        "drained": Band(low=-10, high=2),
    }


class FieldSettings(_Model):
    """A paddy field (DOMAIN §3)."""

    area_m2: float = Field(1000.0, gt=0, le=1_000_000)  # 10 a
    crop: str = "koshihikari"
    calendar: CropCalendar = CropCalendar()
    water_band_cm: dict[str, Band] = Field(default_factory=_default_bands)
    tolerance_cm: float = Field(1.0, ge=0, le=10)  # alert outside band ± this
    weir_height_cm: float = Field(12.0, ge=0, le=60)  # overflow above
    sudden_drop_mm_per_h: float = Field(5.0, gt=0)  # DOMAIN §3.5
    heat_water_mean_c: float = 30.0  # DOMAIN §3.3, heading + 20 days

    @field_validator("water_band_cm")
    @classmethod
    def _stages(cls, v: dict[str, Band]) -> dict[str, Band]:
        unknown = set(v) - set(STAGES)
        if unknown:
            raise ValueError(f"unknown stage(s) {', '.join(sorted(unknown))}; "
                             f"stages: {', '.join(STAGES)}")
        return {**_default_bands(), **v}

    def stage_on(self, d: date) -> str | None:
        """The crop stage on a day, or None outside the season."""
        md = d.strftime("%m-%d")
        c = self.calendar
        if md < c.transplant:
            return None
        for stage, start in (("drained", c.final_drainage), ("grain_filling", c.grain_filling),
                             ("heading", c.heading), ("panicle", c.nakaboshi_end),
                             ("nakaboshi", c.nakaboshi_start), ("tillering", c.tillering)):
            if md >= start:
                if stage == "panicle" and md == c.nakaboshi_end:
                    return "nakaboshi"
                return stage
        return "transplant"

    def band_on(self, d: date) -> Band | None:
        stage = self.stage_on(d)
        return self.water_band_cm.get(stage) if stage else None


class PipeDistrictSettings(_Model):
    """A water-distribution district (DOMAIN §4)."""

    # 水道施設の技術的基準を定める省令: ≥ 0.15 MPa dynamic, ≤ 0.74 MPa static
    pressure_min_mpa: float = Field(0.15, ge=0, le=2)
    pressure_max_mpa: float = Field(0.74, ge=0, le=2)
    # usual range in this district (gravity-fed small town)
    normal_min_mpa: float = Field(0.25, ge=0, le=2)
    normal_max_mpa: float = Field(0.50, ge=0, le=2)
    night_window: tuple[HHMM, HHMM] = ("02:00", "04:00")  # minimum night flow
    baseline_mnf_m3h: float | None = Field(None, ge=0)
    mains_km: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _order(self) -> PipeDistrictSettings:
        if self.pressure_min_mpa >= self.pressure_max_mpa:
            raise ValueError(f"pressure_min_mpa {self.pressure_min_mpa} must be below "
                             f"pressure_max_mpa {self.pressure_max_mpa}")
        if self.normal_min_mpa >= self.normal_max_mpa:
            raise ValueError(f"normal_min_mpa {self.normal_min_mpa} must be below "
                             f"normal_max_mpa {self.normal_max_mpa}")
        return self


class HouseholdSettings(_Model):
    fence_radius_m: float = Field(50.0, ge=10, le=5000)


class SchoolSettings(_Model):
    fence_radius_m: float = Field(100.0, ge=10, le=5000)
    bell: HHMM = "08:15"
    dismissal: HHMM = "15:30"


PERSON_MODELS: dict[str, type[BaseModel]] = {"wearer": WearerSettings, "child": ChildSettings}
SITE_MODELS: dict[str, type[BaseModel]] = {
    "household": HouseholdSettings, "field": FieldSettings,
    "pipe_district": PipeDistrictSettings, "school": SchoolSettings,
}
SITE_KINDS = tuple(SITE_MODELS)
PERSON_KINDS = ("wearer", "child", "family", "care_manager", "farmer", "public_works",
                "welfare", "operator")


def model_for(subject: Literal["person", "site"], kind: str) -> type[BaseModel]:
    if subject == "site":
        model = SITE_MODELS.get(kind)
        if model is None:
            raise SettingsError(f"unknown site kind {kind!r}; one of {', '.join(SITE_KINDS)}")
        return model
    return PERSON_MODELS.get(kind, PersonSettings)


def _message(kind: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return f"{kind} settings: " + "; ".join(parts)


def validate_settings(subject: Literal["person", "site"], kind: str,
                      data: dict[str, Any]) -> dict[str, Any]:
    """Check ``data`` against the kind's model; return what to store (the
    keys given, normalised — defaults stay implicit so they can evolve)."""
    model = model_for(subject, kind)
    try:
        m = model.model_validate(data or {})
    except ValidationError as exc:
        raise SettingsError(_message(kind, exc)) from None
    return m.model_dump(mode="json", exclude_unset=True)


def effective_settings(subject: Literal["person", "site"], kind: str,
                       data: dict[str, Any] | None) -> dict[str, Any]:
    """Stored settings with every default filled in."""
    model = model_for(subject, kind)
    try:
        return model.model_validate(data or {}).model_dump(mode="json")
    except ValidationError as exc:
        raise SettingsError(_message(kind, exc)) from None
