import pytest

from mimamori.contracts import ContractError, EventKind, Family, Reading, Severity
from mimamori.offline import Label, ReadingWriter, read_labels, read_readings, write_labels


def test_readings_round_trip_keeps_types_and_time(tmp_path):
    rs = [Reading("w-1", "wear_v1", Family.WEARABLE, "home-1", 1_767_225_600_000_000_001,
                  {"hr_bpm": 61.5, "steps": 12, "fall": False, "note": "居間, \"ok\""}),
          Reading("w-1", "wear_v1", Family.WEARABLE, "home-1", 1_767_225_660_000_000_001,
                  {"hr_bpm": 63.0})]
    path = tmp_path / "readings.csv"
    with ReadingWriter(path) as w:
        w.write_all(rs)
    back = list(read_readings(path))
    assert back == rs
    assert type(back[0].fields["steps"]) is int


def test_labels_round_trip(tmp_path):
    labels = [Label("p-1", EventKind.SUDDEN_DROP, 10, 20, Severity.CRITICAL),
              Label("p-2", EventKind.SENSOR_DRIFT, 30, 40, Severity.INFO, observable=False)]
    write_labels(tmp_path / "labels.csv", labels)
    assert read_labels(tmp_path / "labels.csv") == labels
    assert [lb.observable for lb in read_labels(tmp_path / "labels.csv")] == [True, False]


def test_version_1_labels_are_read_as_observable(tmp_path):
    p = tmp_path / "labels.csv"
    p.write_text("# mimamori-labels v1\ndevice_id,kind,start_ns,end_ns,severity\n"
                 "p-1,sensor_drift,1,2,info\n")
    assert read_labels(p) == [Label("p-1", EventKind.SENSOR_DRIFT, 1, 2, Severity.INFO, True)]


def test_wrong_file_is_refused_with_a_reason(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ContractError, match="not a mimamori-readings"):
        list(read_readings(p))
    p.write_text("# mimamori-labels v1\ndevice_id,kind,start_ns,end_ns,severity\nd,alien,1,2,info\n")
    with pytest.raises(ContractError, match="line 3"):
        read_labels(p)
    p.write_text("# mimamori-labels v2\ndevice_id,kind,start_ns,end_ns,severity,observable\n"
                 "d,sos,1,2,info,maybe\n")
    with pytest.raises(ContractError, match="line 3"):
        read_labels(p)
    p.write_text("# mimamori-labels v2\ndevice_id,kind,start_ns,end_ns,severity\nd,sos,1,2,info\n")
    with pytest.raises(ContractError, match="expected columns"):
        read_labels(p)
