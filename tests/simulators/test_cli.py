"""The ``mimamori simulate`` commands: run (offline, deterministic, files in
the offline format), plot (one PNG per device, anomalies shaded), errors as
one line."""

from typer.testing import CliRunner

from mimamori.cli import app
from mimamori.offline import read_labels

SCENARIO = """
name: cli-test
seed: 4
start: "2026-07-13T00:00:00+09:00"
duration: 2d
groups:
  - {family: wearable, count: 1}
  - {family: child_tag, count: 1}
  - {family: paddy, count: 1, params: {transplant: "2026-05-01"}}
  - {family: water_main, count: 1}
anomalies:
  - {device: wearable-0001, kind: fall, at: 10h, duration: 30m}
  - {device: watermain-0001, kind: burst, at: 1d3h, duration: 2h}
"""


def test_run_writes_the_same_files_twice_and_plot_draws_each_device(tmp_path):
    sc = tmp_path / "s.yaml"
    sc.write_text(SCENARIO)
    runner = CliRunner()
    outs = []
    for name in ("a", "b"):
        res = runner.invoke(app, ["simulate", "run", str(sc), "--out", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
        assert '"devices":4' in res.output
        outs.append((tmp_path / name / "readings.csv").read_bytes())
    assert outs[0] == outs[1]
    kinds = {lb.kind.value for lb in read_labels(tmp_path / "a" / "labels.csv")}
    assert {"fall", "burst"} <= kinds
    res = runner.invoke(app, ["simulate", "plot", str(sc), "--out", str(tmp_path / "png")])
    assert res.exit_code == 0, res.output
    pngs = sorted((tmp_path / "png").glob("*.png"))
    assert [p.stem for p in pngs] == ["childtag-0001", "paddy-0001", "watermain-0001",
                                      "wearable-0001"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 20_000
               for p in pngs)


def test_a_bad_scenario_is_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("groups:\n  - {family: paddy, count: 1, transport: pigeon}\n")
    res = CliRunner().invoke(app, ["simulate", "run", str(bad)])
    assert res.exit_code != 0
    assert "transport" in str(res.exception) or "transport" in res.output
