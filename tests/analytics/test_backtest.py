"""Backtest over the real InfluxDB: stored points → the findings the
detectors would have produced."""

from __future__ import annotations

from analytics.backtest import backtest, load_readings, parse_time
from device_profiles import load_profiles

NS = 10**9


def test_backtest_rebuilds_readings_and_reports_findings(influx):
    t0 = parse_time("2026-06-01T08:00:00")
    lines = []
    for i in range(12):   # a paddy sensor every 10 minutes, then three hours of silence
        ts = t0 + i * 600 * NS
        lines.append(f"paddy,device_id=bt-paddy,site=f1,profile=paddy_json_v1 "
                     f"water_level_cm={4.0 + 0.1 * (i % 3)},battery_pct=90 {ts}")
    lines.append(f"paddy,device_id=bt-paddy,site=f1,profile=paddy_json_v1 "
                 f"water_level_cm=4.1,battery_pct=90 {t0 + (11 * 600 + 3 * 3600) * NS}")
    for i, sos in enumerate([False, False, True, False]):
        ts = t0 + i * 600 * NS
        lines.append(f"wearable,device_id=bt-wear,site=h1,profile=wearable_v1 "
                     f"heart_rate_bpm=70i,steps=20i,activity=30i,worn=true,fall=false,"
                     f"sos={'true' if sos else 'false'},battery_pct=80 {ts}")
        if sos:
            lines.append(f"location,device_id=bt-wear,site=h1,profile=wearable_v1 "
                         f"lat=34.48,lon=136.63,gps_accuracy_m=12 {ts}")
    influx.write_lines(lines)
    start, end = t0 - NS, t0 + 6 * 3600 * NS
    readings = load_readings(influx, start, end)
    assert len(readings) == 13 + 4
    sos_reading = next(r for r in readings if r.fields.get("sos") is True)
    assert sos_reading.fields["lat"] == 34.48  # the location point merged back
    report = backtest(readings, load_profiles(), None, end)
    assert report["opened_by_kind"].get("sos") == 1
    # both devices fall silent: the paddy sensor for three hours, the wearable at the end
    assert report["opened_by_kind"].get("device_silent") == 2
    silent = next(f for f in report["findings"]
                  if f["kind"] == "device_silent" and f["device_id"] == "bt-paddy")
    assert t0 + 11 * 600 * NS < silent["ts_ns"] < t0 + (11 * 600 + 1200) * NS
