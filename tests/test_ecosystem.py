"""The ecosystem check's offline logic: pins, RECORD reading, snapshot keys and updates.

The check itself (ecosystem/run.py) installs packages and is run by hand; these tests
only exercise its pure functions and the files checked in beside it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ECO_DIR = Path(__file__).resolve().parent.parent / "ecosystem"


def _load_run():
    spec = importlib.util.spec_from_file_location("walint_ecosystem_run", ECO_DIR / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


run = _load_run()


def finding(path="pkg/db.py", code="WAL001", source="conn.execute('PRAGMA journal_mode=DELETE')", line=10, dist="pkg"):
    return run.Finding(dist, path, code, source, line, "message")


def test_parse_packages_reads_pins_flags_and_comments():
    pins = run.parse_packages("# comment\n\nfoo==1.0\nBar-Baz==2.3 --no-deps  # heavy\n")
    assert pins == [run.Pin("foo", "1.0"), run.Pin("Bar-Baz", "2.3", True)]
    assert pins[1].requirement == "Bar-Baz==2.3"


@pytest.mark.parametrize("line", ["foo", "foo>=1.0", "foo==1.0 --upgrade"])
def test_parse_packages_rejects_unpinned_or_unknown_flags(line):
    with pytest.raises(ValueError):
        run.parse_packages(line)


def test_checked_in_packages_are_pinned_and_at_least_thirty():
    pins = run.parse_packages((ECO_DIR / "packages.txt").read_text(encoding="utf-8"))
    assert len(pins) >= 30
    assert len({run.canonical(p.name) for p in pins}) == len(pins)


def test_checked_in_snapshot_has_a_verdict_for_every_finding():
    entries = json.loads((ECO_DIR / "snapshot.json").read_text(encoding="utf-8"))["findings"]
    for entry in entries:
        assert run.verdict_kind(entry["verdict"]) in run.VERDICT_KINDS, entry
    keys = [run.entry_key(e) for e in entries]
    assert len(keys) == len(set(keys))


def test_normalised_source_ignores_indentation_and_inner_spacing():
    assert run.normalise_source("    conn.execute(  'x' ,\t1)\n") == "conn.execute( 'x' , 1)"


def test_record_files_keeps_only_the_distributions_python_files(tmp_path):
    site = tmp_path / "site"
    for rel in ["pkg/__init__.py", "pkg/db.py", "pkg/stub.pyi", "pkg/data.json", "pkg/__pycache__/db.cpython-311.pyc"]:
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text("")
    info = site / "pkg-1.0.dist-info"
    info.mkdir()
    (info / "RECORD").write_text(
        "pkg/__init__.py,sha256=x,0\n"
        "pkg/db.py,sha256=x,0\n"
        "pkg/stub.pyi,,\n"
        "pkg/data.json,,\n"
        "pkg/__pycache__/db.cpython-311.pyc,,\n"
        "../../bin/pkg-tool.py,,\n"
        "pkg/missing.py,,\n"
        "pkg-1.0.dist-info/RECORD,,\n"
    )
    assert run.record_files(site, info) == ["pkg/__init__.py", "pkg/db.py", "pkg/stub.pyi"]


def test_find_dist_info_matches_normalised_names_and_checks_the_version(tmp_path):
    info = tmp_path / "jupyter_server_fileid-0.10.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: jupyter_server_fileid\nVersion: 0.10.0\n\nName: not-this\n")
    assert run.find_dist_info([tmp_path], run.Pin("jupyter-server-fileid", "0.10.0")) == (tmp_path, info)
    with pytest.raises(SystemExit):
        run.find_dist_info([tmp_path], run.Pin("jupyter-server-fileid", "0.9.0"))
    with pytest.raises(SystemExit):
        run.find_dist_info([tmp_path], run.Pin("other", "1.0"))


def test_compare_keys_on_source_not_line_numbers():
    snapshot = run.updated_snapshot([], [finding(line=10)])
    new, vanished = run.compare(snapshot, [finding(line=42)])
    assert (new, vanished) == ([], [])


def test_compare_reports_new_and_vanished_findings_with_counts():
    old = [finding(), finding(code="WAL004", source="conn.execute('PRAGMA journal_mode=WAL')")]
    snapshot = run.updated_snapshot([], old)
    current = [finding(), finding(line=20), finding(path="pkg/other.py")]
    new, vanished = run.compare(snapshot, current)
    assert new == sorted([finding().key, finding(path="pkg/other.py").key])
    assert vanished == [old[1].key]


def test_update_keeps_verdicts_marks_new_unreviewed_and_drops_vanished():
    snapshot = run.updated_snapshot([], [finding(), finding(path="pkg/gone.py")])
    for entry in snapshot:
        entry["verdict"] = "true positive: reviewed"
    updated = run.updated_snapshot(snapshot, [finding(line=99), finding(line=120), finding(path="pkg/new.py")])
    by_path = {e["path"]: e for e in updated}
    assert set(by_path) == {"pkg/db.py", "pkg/new.py"}
    assert by_path["pkg/db.py"]["verdict"] == "true positive: reviewed"
    assert by_path["pkg/db.py"]["count"] == 2 and by_path["pkg/db.py"]["line"] == 99
    assert by_path["pkg/new.py"]["verdict"] == run.UNREVIEWED
    assert run.compare(updated, [finding(line=1), finding(line=2), finding(path="pkg/new.py")]) == ([], [])


def test_snapshot_round_trips_through_the_file(tmp_path):
    entries = run.updated_snapshot([], [finding()])
    path = tmp_path / "snapshot.json"
    run.write_snapshot(path, entries)
    assert run.load_snapshot(path) == entries
    assert run.load_snapshot(tmp_path / "absent.json") == []


def test_verdict_kind():
    assert run.verdict_kind("false alarm: a lexer's word list") == "false alarm"
    assert run.verdict_kind("debatable: ...") == "debatable"
    assert run.verdict_kind("false alarm") == run.UNREVIEWED  # needs the reason after the colon
    assert run.verdict_kind("unreviewed") == run.UNREVIEWED


def test_results_list_false_alarms_and_differences():
    scan = run.DistScan(run.Pin("pkg", "1.0"), ["pkg/db.py"], 12, 0.5, [finding(), finding(path="pkg/new.py")])
    snapshot = run.updated_snapshot([], [finding()])
    snapshot[0]["verdict"] = "false alarm: the | pipe is escaped"
    new, vanished = run.compare(snapshot, scan.findings)
    text = run.render_results([scan], snapshot, new, vanished, None)
    false_alarms = text.split("## False alarms", 1)[1].split("## All findings", 1)[0]
    assert "pkg/db.py:10" in false_alarms and "pkg/new.py" not in false_alarms
    assert "the \\| pipe is escaped" in text
    assert "- new: pkg `pkg/new.py` WAL001" in text
    assert "files scanned: 1; lines: 12" in text
