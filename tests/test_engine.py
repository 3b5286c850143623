"""The engine on awkward input: syntax errors, encodings, line endings, suppressions, crashes."""

from __future__ import annotations

import pytest

from walint import engine
from walint.engine import check_source
from walint.suppressions import suppressed_codes
from walint.settings import Settings

VULNERABLE = (
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)


def _rows(result):
    return [(f.location.row, f.location.column, f.code) for f in result.findings]


def test_syntax_error_is_wal000_at_the_error():
    source = b"import sqlite3\n\ndef connect(path:\n    conn.execute('PRAGMA journal_mode=WAL')\n"
    result = check_source("bad.py", source, Settings())
    [finding] = result.findings
    assert finding.code == "WAL000"
    assert finding.location.row == 3
    assert finding.message.startswith("Cannot parse:")


def test_undecodable_file_is_wal000_not_a_crash():
    source = b"x = 'PRAGMA journal_mode=DELETE'\ny = '\xff\xfe'\n"
    [finding] = check_source("bad.py", source, Settings()).findings
    assert finding.code == "WAL000"
    assert "decode" in finding.message


def test_wal000_can_be_deselected():
    assert check_source("bad.py", b"def f(:\n", Settings(ignore=("WAL000",))).findings == ()


def test_latin1_cookie():
    source = ("# -*- coding: latin-1 -*-\n# café\n" + VULNERABLE).encode("latin-1")
    assert _rows(check_source("l1.py", source, Settings())) == [(7, 9, "WAL001")]


def test_crlf_line_endings():
    source = VULNERABLE.replace("\n", "\r\n").encode()
    assert _rows(check_source("crlf.py", source, Settings())) == [(5, 9, "WAL001")]


def test_byte_order_mark():
    source = b"\xef\xbb\xbf" + VULNERABLE.encode()
    assert _rows(check_source("bom.py", source, Settings())) == [(5, 9, "WAL001")]


def test_columns_count_characters_not_bytes():
    source = VULNERABLE.replace("        conn.execute('PRAGMA journal_mode=DELETE')", "        é = conn.execute('PRAGMA journal_mode=DELETE')")
    assert _rows(check_source("u.py", source.encode(), Settings())) == [(5, 13, "WAL001")]


@pytest.mark.parametrize(
    "comment, suppressed",
    [
        ("# noqa: WAL001", True),
        ("# noqa:WAL001,WAL002", True),
        ("# NOQA: wal001", True),
        ("# noqa", True),
        ("# walint: ignore[WAL001]", True),
        ("# walint: ignore[WAL002, WAL001]", True),
        ("# noqa: WAL002", False),
        ("# walint: ignore[WAL002]", False),
        ("# a comment", False),
    ],
)
def test_suppression_comments(comment, suppressed):
    source = VULNERABLE.replace("DELETE')\n", f"DELETE')  {comment}\n")
    findings = check_source("s.py", source.encode(), Settings()).findings
    assert (findings == ()) is suppressed


def test_suppressed_codes_parsing():
    assert suppressed_codes("x  # noqa") == ()
    assert suppressed_codes("x  # noqa: WAL001, WAL002") == ("WAL001", "WAL002")
    assert suppressed_codes("x  # walint: ignore[WAL001,WAL002]") == ("WAL001", "WAL002")
    assert suppressed_codes("x") is None


def test_wal100_is_given_what_each_line_suppressed_and_reports_the_rest():
    """WAL100 alone, without the engine: its comments, what each line used, its reports."""
    import libcst

    from walint.rules.unused_suppression import UnusedSuppression
    from walint.suppressions import parse_suppression
    from walint.tree import positions_of

    source = "a = 1  # noqa: WAL001, WAL002\nb = 2  # walint: ignore[WAL001]\nc = 3  # noqa\n"
    module = libcst.parse_module(source)
    lines = source.splitlines()
    unused = UnusedSuppression(Settings(), module)
    assert len(unused.comments) == 3
    reports = list(
        unused.check(
            lambda node: positions_of(module)[node].start.line,
            lambda row: parse_suppression(lines[row - 1]),
            {1: {"WAL001"}, 2: {"WAL001"}},
        )
    )
    assert [report.message for report in reports] == ["Unused `noqa` directive (unused: `WAL002`)"]
    assert reports[0].fix is not None and reports[0].fix.applicability == "safe"


def test_a_crashing_rule_is_an_internal_error_and_others_still_run(monkeypatch):
    from walint.rules.transient_marker import TransientMarker

    def explode(self, model):
        raise ValueError("boom")

    monkeypatch.setattr(TransientMarker, "check", explode)
    result = check_source("c.py", VULNERABLE.encode(), Settings())
    assert [f.code for f in result.findings] == ["WAL001"]
    assert len(result.errors) == 1 and "WAL002" in result.errors[0] and "boom" in result.errors[0]


def test_select_and_ignore():
    source = (
        "_WAL_INCOMPAT_MARKERS = ('locking protocol', 'disk i/o error')\n" + VULNERABLE
    ).encode()
    assert {f.code for f in check_source("x.py", source, Settings()).findings} == {"WAL001", "WAL002"}
    assert {f.code for f in check_source("x.py", source, Settings(select=("WAL002",))).findings} == {"WAL002"}
    assert {f.code for f in check_source("x.py", source, Settings(ignore=("WAL00",))).findings} == set()


def test_findings_are_plain_frozen_data():
    import dataclasses
    import pickle

    [finding] = check_source("x.py", VULNERABLE.encode(), Settings()).findings
    assert pickle.loads(pickle.dumps(finding)) == finding
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.code = "X"  # type: ignore[misc]


def test_positions_only_computed_for_files_with_findings(monkeypatch):
    calls = []
    original = engine._findings

    def spy(*args):
        calls.append(args[0])
        return original(*args)

    monkeypatch.setattr(engine, "_findings", spy)
    check_source("clean.py", b"conn.execute('PRAGMA journal_mode=WAL')\n", Settings())
    assert calls == []
    check_source("dirty.py", VULNERABLE.encode(), Settings())
    assert calls == ["dirty.py"]


def test_file_results_with_summaries_cross_process_boundaries():
    import pickle

    source = VULNERABLE + "FALLBACK = 'delete'\nimport sqlite3\nfrom .util import helper\n"
    result = check_source("x.py", source.encode(), Settings())
    assert result.summary is not None
    assert result.summary.constant("FALLBACK") == ("delete",)
    assert ".util.helper" in result.summary.imports
    assert result.summary.function("enable_wal").unguarded_downgrade == "x.py:5"
    assert pickle.loads(pickle.dumps(result)) == result


def test_per_file_ignores_apply_with_the_suppression_comments(monkeypatch):
    from walint import render

    rendered = []
    monkeypatch.setattr(render, "render_plans", lambda module, plans: rendered.append(plans) or [])
    ignoring = Settings(per_file_ignores=(("tests/*", ("WAL001", "WAL000")),), render_fixes="all")
    assert check_source("tests/store.py", VULNERABLE.encode(), ignoring).findings == ()
    assert rendered == []  # an ignored finding's fix is never rendered
    assert check_source("tests/bad.py", b"def f(:\n", ignoring).findings == ()
    assert _rows(check_source("src/store.py", VULNERABLE.encode(), Settings(per_file_ignores=ignoring.per_file_ignores))) == [
        (5, 9, "WAL001")
    ]
    # A comment that suppressed a finding the file also ignores is still a used comment.
    commented = VULNERABLE.replace("DELETE')", "DELETE')  # noqa: WAL001").encode()
    strict = Settings(per_file_ignores=ignoring.per_file_ignores, extend_select=("WAL100",))
    assert check_source("tests/store.py", commented, strict).findings == ()
