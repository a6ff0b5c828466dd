"""The per-site IsolationForest: trained from a real InfluxDB filled with
simulated water-main data, scored in batches, its finding through the engine."""

from __future__ import annotations

import pytest

from analytics.engine import Engine
from analytics.site_model import BatchScorer, SiteModelConfig, score_into, train_sites
from analytics.stage import AnalyticsStage
from device_profiles import load_profiles
from ingest.query import ReadingsQuery
from ingest.schema import InfluxV1Layout
from mimamori.contracts import EventKind, Family, FindingState, Reading
from simulators.timebase import parse_time
from simulators.water_main import WaterMain
from simulators.weather import Weather

NS = 10**9
H = 3600 * NS
DAY = 24 * H
SITE = "district-t"


def _simulate(days: int, burst_at_ns: int | None):
    t0 = parse_time("2026-06-01T00:00:00+09:00")
    end = t0 + days * DAY
    out = {}
    for i, dev in enumerate(("wm-a", "wm-b")):
        m = WaterMain(dev, SITE, seed=40 + i, start_ns=t0, end_ns=end, weather=Weather(40))
        if dev == "wm-a" and burst_at_ns is not None:
            m.inject("burst", t0 + burst_at_ns, 3 * 3600)
        rows: list = []
        m.run_until(end, rows)
        out[dev] = rows
    return t0, out


def _lines(rows_by_dev, until_ns):
    return [f"water_main,device_id={dev},site={SITE},profile=water_main_v1 "
            + ",".join(f"{k}={v}" for k, v in f.items()) + f" {ts}"
            for dev, rows in rows_by_dev.items() for ts, f in rows if ts < until_ns]


@pytest.fixture
def filled(settings, influx):
    layout = InfluxV1Layout(influx, settings.ingest, settings.influx)
    layout.ensure()
    burst_ns = 3 * DAY + 10 * H   # the fourth day, 10:00
    t0, rows = _simulate(4, burst_ns)
    res = influx.write_lines(_lines(rows, t0 + 3 * DAY), retention_policy="raw")
    assert res.outcome.value == "ok", res.message
    return t0, rows, burst_ns, layout


def test_trained_from_influx_history_the_batched_model_finds_an_injected_burst(
        settings, influx, filled):
    t0, rows, burst_ns, layout = filled
    cfg = SiteModelConfig(batch_readings=32)
    q = ReadingsQuery(settings, influx, layout)
    models = train_sites(q, cfg, t0 + 3 * DAY)
    (key,) = models
    assert key == (SITE, "water_main")
    assert models[key].n_train > 1500   # three days of two monitors, every 5 minutes

    scorer, engine = BatchScorer(cfg), Engine(load_profiles())
    scorer.set_models(models)
    day4 = sorted((ts, dev, f) for dev, rs in rows.items() for ts, f in rs
                  if ts >= t0 + 2 * DAY)   # a day of warm-up for the rolling windows
    found = []
    for ts, dev, f in day4:
        r = Reading(dev, "water_main_v1", Family.WATER_MAIN, SITE, ts, f)
        engine.process(r)
        k = scorer.add(r)
        if k is not None and ts >= t0 + 3 * DAY:
            found += score_into(scorer, engine, k)
        elif k is not None:
            scorer.score(k)
    assert scorer.batches > 10 and scorer.scored > 0
    opened = [f for f in found if f.kind is EventKind.ANOMALY
              and f.state is FindingState.OPENED]
    burst = [f for f in opened if f.device_id == "wm-a"
             and t0 + burst_ns <= f.ts_ns <= t0 + burst_ns + 3 * H]
    assert burst, opened
    assert burst[0].evidence["detector"] == "site_model" and burst[0].evidence["unusual"]
    # a normal day elsewhere stays quiet (no more than one stray finding)
    assert len(opened) - len(burst) <= 1


def test_the_stage_trains_its_site_models_from_influx(settings, influx, filled):
    stage = AnalyticsStage(settings, site_model=SiteModelConfig(history_s=400 * 86400))
    assert stage.train_now() == 1
    assert stage.trained.is_set() and set(stage.scorer.models) == {(SITE, "water_main")}
