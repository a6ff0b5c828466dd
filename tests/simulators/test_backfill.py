"""Accelerated history straight into the real InfluxDB, through ingest's
own line builder: sensor fields in their family's measurement, people's
positions only in ``location``."""

from simulators.backfill import backfill
from simulators.cli import shift_to_end_now
from simulators.scenario import Scenario


def test_backfill_writes_every_reading_and_splits_locations(settings, influx, tmp_path):
    sc = shift_to_end_now(Scenario.model_validate({
        "name": "bf", "seed": 2, "duration": "6h",
        "groups": [{"family": "child_tag", "count": 2}, {"family": "paddy", "count": 2}],
        "anomalies": [{"device": "paddy-0001", "kind": "sensor_stuck", "at": "1h",
                       "duration": "2h"}]}))
    stats = backfill(settings, sc, tmp_path)
    assert stats.readings > 100
    paddy = influx.points('SELECT count(water_level_cm) FROM "raw"."paddy"')
    loc = influx.points('SELECT count(lat) FROM "location"."location"')
    tags = influx.points('SELECT count(battery_pct) FROM "raw"."child_tag"')
    assert paddy[0]["count"] + loc[0]["count"] == stats.readings
    assert tags[0]["count"] == loc[0]["count"]  # the tag's battery stays, its position moves
    assert not influx.points('SELECT * FROM "raw"."child_tag" WHERE lat > 0')
    assert (tmp_path / "labels.csv").read_text().count("sensor_stuck") == 1
