"""Line protocol escaping, checked against the real InfluxDB."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ingest.influx import Outcome, classify
from ingest.line_protocol import LineError, format_value, line
from ingest.points import measurement_of, tags_of

NASTY = ['a b', 'c,d', 'e=f', 'g"h', 'i\\j', '水位 センサー,第1=田', 'tab\there']


@pytest.mark.parametrize("text", NASTY)
def test_round_trip_of_awkward_tags_and_strings(influx, text):
    ts = 1_767_225_600_000_000_001
    lp = line("m x,y", {"device_id": text, "site": "s"}, {"note": text + "\n2行目",
                                                          f"f {text}": 1.25}, ts)
    res = influx.write_lines([lp])
    assert res.outcome is Outcome.OK, res.message
    rows = influx.points('SELECT * FROM "m x,y"')
    assert len(rows) == 1
    row = rows[0]
    assert row["device_id"] == text
    assert row["note"] == text + "\n2行目"
    assert row[f"f {text}"] == 1.25
    assert row["time"] == ts


def test_unwritable_names_are_refused_with_a_reason():
    with pytest.raises(LineError, match="backslash"):
        line("m", {"device_id": "k\\"}, {"v": 1.0}, 1)
    with pytest.raises(LineError, match="backslash"):
        line("m", {"device_id": "l\\,m"}, {"v": 1.0}, 1)
    with pytest.raises(LineError, match="line break"):
        line("m", {"device_id": "a\nb"}, {"v": 1.0}, 1)


def test_types_are_written_as_declared():
    assert format_value(3) == "3i" and format_value(3.0) == "3.0"
    assert format_value(True) == "true"
    with pytest.raises(LineError):
        format_value(float("nan"))


def test_the_answer_table():
    assert classify(204, "").outcome is Outcome.OK
    assert classify(404, '{"error":"database not found: \\"x\\""}').outcome is Outcome.CREATE_DB
    r = classify(400, '{"error":"unable to parse \'bad\': missing fields"}')
    assert r.outcome is Outcome.REJECT and "unable to parse" in r.message
    assert classify(None, "ConnectError").outcome is Outcome.RETRY
    assert classify(503, "").outcome is Outcome.RETRY
    assert classify(401, '{"error":"authorization failed"}').outcome is Outcome.FATAL


def test_field_type_conflict_is_rejected_with_influx_message(influx):
    assert influx.write_lines(["m v=1.5 1"]).outcome is Outcome.OK
    res = influx.write_lines(['m v="text" 2'])
    assert res.outcome is Outcome.REJECT
    assert "conflict" in res.message


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=12),
                       min_size=1, max_size=4))
def test_tags_read_back_from_a_line_are_the_tags_written(tags):
    """What ingest reads from a line InfluxDB refused (e.g. the device_id
    of a dead letter) is exactly what was written, escapes and all."""
    try:
        lp = line("m,x y", tags, {"v": 1.0}, 1)
    except LineError:
        assume(False)
    assert measurement_of(lp) == r"m\,x\ y"
    assert tags_of(lp) == tags
