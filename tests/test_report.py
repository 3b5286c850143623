"""Output formats: each one on plain Finding data, then through the command line.

The reporters never see LibCST, so most tests build findings by hand; the SARIF report
is validated against the official SARIF 2.1.0 schema shipped in tests/data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from walint.cli import main
from walint.cli.options import use_colour
from walint.docs import render_page, rule_infos
from walint.findings import Edit, Finding, Fix, Location
from walint.report import FORMATS, ReportContext, SourceLines
from walint.report import statistics
from walint.report.context import stable_fingerprints
from walint.rules import RULES_BY_CODE

SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

SOURCE = (
    "def enable_wal(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except Exception:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)
VULNERABLE = "_WAL_INCOMPAT_MARKERS = ('locking protocol', 'disk i/o error')\n" + SOURCE


def _finding(path, row=5, column=9, end_column=51, code="WAL001", fix=None, no_fix_reason=None, fingerprint=None):
    return Finding(
        path,
        code,
        "Journal mode `DELETE` set in an `except` handler",
        Location(row, column),
        Location(row, end_column),
        fix=fix,
        no_fix_reason=no_fix_reason,
        fingerprint=fingerprint if fingerprint is not None else "conn.execute('PRAGMA journal_mode=DELETE')",
    )


FIX = Fix(
    "Replace the fallback with `apply_wal_with_fallback`",
    "safe",
    (Edit("apply_wal_with_fallback(conn)", Location(2, 5), Location(5, 51)),),
)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("store.py").write_text(SOURCE)
    return "store.py"


def _context(**kwargs):
    return ReportContext(rules=rule_infos(), **kwargs)


# ----- full and concise -------------------------------------------------------------------


def test_full_shows_the_line_with_the_columns_marked(store):
    text = FORMATS["full"]([_finding(store)], _context())
    assert text == (
        "store.py:5:9: WAL001 Journal mode `DELETE` set in an `except` handler\n"
        "  |\n"
        "4 |     except Exception:\n"
        "5 |         conn.execute('PRAGMA journal_mode=DELETE')\n"
        "  |         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ WAL001\n"
        "  |\n"
        "\n"
        "Found 1 error.\n"
    )


def test_full_shows_the_fix_title_or_why_there_is_none(store):
    fixed = FORMATS["full"]([_finding(store, fix=FIX)], _context())
    assert "store.py:5:9: WAL001 [*] Journal mode" in fixed
    assert "  = help: Replace the fallback with `apply_wal_with_fallback`\n" in fixed
    assert "[*] 1 fixable with the `--fix` option." in fixed
    unfixed = FORMATS["full"]([_finding(store, no_fix_reason="the handler also closes the pool")], _context())
    assert "  = note: the handler also closes the pool\n" in unfixed


def test_full_aligns_the_marker_under_tabs_and_wide_characters(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("t.py").write_text("x = 1\n\t名前 = conn.execute(q)\n")
    # `conn` is character 7 of its line: tab, two wide characters, " = ".
    text = FORMATS["full"]([_finding("t.py", row=2, column=7, end_column=22)], _context())
    lines = text.splitlines()
    code_line = next(line for line in lines if line.startswith("2 |"))
    caret_line = next(line for line in lines if "^" in line)
    assert code_line == "2 |     名前 = conn.execute(q)"
    # On screen the tab takes 4 cells and each wide character 2, so the marker sits
    # under `conn` only if it is indented by cells, not characters.
    cells_before_conn = len("2 |     ") + 4 + len(" = ")
    assert caret_line.index("^") == cells_before_conn
    assert caret_line.count("^") == len("conn.execute(q)")


def test_full_without_the_source_still_prints_the_finding(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = FORMATS["full"]([_finding("gone.py")], _context())
    assert text.splitlines()[0].startswith("gone.py:5:9: WAL001") and "|" not in text


def test_full_reads_given_sources_and_coding_cookies(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    latin = "# -*- coding: latin-1 -*-\nname = 'café'; conn.execute(q)\n".encode("latin-1")
    lines = SourceLines({"-": latin})("-")
    assert lines[1] == "name = 'café'; conn.execute(q)"
    Path("crlf.py").write_bytes(b"a = 1\r\nb = 2\rc = 3\n")
    assert SourceLines()("crlf.py")[:3] == ["a = 1", "b = 2", "c = 3"]


def test_concise_and_quiet(store):
    findings = [_finding(store), _finding(store, row=1, column=1, end_column=4, code="WAL002")]
    assert FORMATS["concise"](findings, _context()).splitlines() == [
        "store.py:5:9: WAL001 Journal mode `DELETE` set in an `except` handler",
        "store.py:1:1: WAL002 Journal mode `DELETE` set in an `except` handler",
        "Found 2 errors.",
    ]
    assert FORMATS["concise"](findings, _context(show_summary=False)).splitlines()[-1].startswith("store.py:1:1")
    assert FORMATS["concise"]([], _context(show_summary=False)) == ""
    assert FORMATS["full"]([], _context()) == "All checks passed!\n"


def test_colour_only_when_asked(store):
    plain = FORMATS["concise"]([_finding(store)], _context())
    coloured = FORMATS["concise"]([_finding(store)], _context(colour=True))
    assert "\x1b[" not in plain and "\x1b[1;31mWAL001\x1b[0m" in coloured


def _on_a_terminal(args, env):
    """Run walint with its stdout on a pseudo-terminal and return what it printed."""
    pty = pytest.importorskip("pty")
    primary, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "walint", *args], stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closed when walint exited
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(primary)
    return output.decode()


def test_the_command_line_colours_a_terminal_only(store):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    assert "\x1b[1;31mWAL001" in _on_a_terminal(["check", store], env)
    assert "\x1b[" not in _on_a_terminal(["check", store], dict(env, NO_COLOR="1"))
    assert "\x1b[" not in CliRunner().invoke(main, ["check", store]).output


def test_colour_on_a_terminal_unless_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(True) and not use_colour(False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(True)


# ----- machine formats --------------------------------------------------------------------


def test_json_lines_is_the_json_format_one_object_a_line(store):
    findings = [_finding(store), _finding(store, fix=FIX)]
    lines = FORMATS["json-lines"](findings, _context()).splitlines()
    assert [json.loads(line) for line in lines] == json.loads(FORMATS["json"](findings, _context()))


def test_github_annotations(store):
    text = FORMATS["github"]([_finding(store)], _context())
    assert text == (
        "::error file=store.py,line=5,col=9,endLine=5,endColumn=51,title=WAL001::"
        "Journal mode `DELETE` set in an `except` handler\n"
    )


def test_github_escapes_what_would_break_the_command():
    finding = Finding("a,b:c%.py", "WAL001", "100% bad\nreally", Location(1, 1), Location(1, 2))
    line = FORMATS["github"]([finding], _context())
    assert line.startswith("::error file=a%2Cb%3Ac%25.py,line=1,")
    assert line.endswith("::100%25 bad%0Areally\n") and line.count("\n") == 1


def test_gitlab_code_quality(store):
    findings = [_finding(store), _finding(store, row=9, column=9, end_column=51)]
    issues = json.loads(FORMATS["gitlab"](findings, _context()))
    assert issues[0] == {
        "description": "WAL001: Journal mode `DELETE` set in an `except` handler",
        "check_name": "WAL001",
        "fingerprint": issues[0]["fingerprint"],
        "severity": "major",
        "location": {"path": "store.py", "positions": {"begin": {"line": 5, "column": 9}, "end": {"line": 5, "column": 51}}},
    }
    # Two copies of one statement stay distinct, and GitLab requires unique fingerprints.
    assert issues[0]["fingerprint"] != issues[1]["fingerprint"]


def test_fingerprints_ignore_line_numbers_but_not_the_statement(store):
    [here] = stable_fingerprints([_finding(store, row=5)])
    [moved] = stable_fingerprints([_finding(store, row=50)])
    [other] = stable_fingerprints([_finding(store, fingerprint="conn.execute('PRAGMA journal_mode=OFF')")])
    assert here == moved != other


# ----- SARIF ------------------------------------------------------------------------------


def _validate_sarif(text):
    schema = json.loads(SARIF_SCHEMA.read_text())
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(json.loads(text)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_is_the_official_sarif_2_1_0_one():
    schema = json.loads(SARIF_SCHEMA.read_text())
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    assert schema["properties"]["version"]["enum"] == ["2.1.0"]
    # The validator rejects what it should, so a passing report means something.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}, schema)


def test_sarif_validates_with_fixes_and_without(store):
    findings = [_finding(store, fix=FIX), _finding(store, code="WAL100"), _finding(str(Path(store).resolve().parent.parent / "elsewhere.py"))]
    _validate_sarif(FORMATS["sarif"](findings, _context()))
    _validate_sarif(FORMATS["sarif"]([], _context()))


def test_sarif_carries_the_rule_docs_and_points_results_at_them(store):
    log = json.loads(FORMATS["sarif"]([_finding(store, fix=FIX)], _context()))
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    [result] = run["results"]
    rule = rules[result["ruleIndex"]]
    assert rule["id"] == result["ruleId"] == "WAL001"
    assert rule["help"]["markdown"] == RULES_BY_CODE["WAL001"].documentation()
    assert rule["shortDescription"]["text"] == RULES_BY_CODE["WAL001"].summary()
    assert {r["id"] for r in rules} == set(RULES_BY_CODE)
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "store.py"},
        "region": {"startLine": 5, "startColumn": 9, "endLine": 5, "endColumn": 51},
    }
    assert run["columnKind"] == "unicodeCodePoints"
    replacement = result["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert replacement["insertedContent"]["text"] == "apply_wal_with_fallback(conn)"


def test_sarif_from_the_command_line_validates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "store.py").write_text(VULNERABLE)
    (tmp_path / "src" / "broken.py").write_text("conn.execute('PRAGMA journal_mode=DELETE'\n")
    result = CliRunner().invoke(main, ["check", "--output-format", "sarif", "src"])
    assert result.exit_code == 1
    _validate_sarif(result.output)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in json.loads(result.output)["runs"][0]["results"]}
    assert uris == {"src/store.py", "src/broken.py"}


# ----- command-line options around the report ----------------------------------------------


def _cli(*args):
    return CliRunner().invoke(main, ["check", *args])


def test_every_format_runs_from_the_command_line(store):
    for name in FORMATS:
        result = _cli("--output-format", name, store)
        assert result.exit_code == 1, (name, result.output)
        assert "WAL001" in result.output


def test_output_file(store):
    result = _cli("--output-format", "json", "--output-file", "out/report.json", store)
    assert result.exit_code == 1 and result.output == ""
    assert [d["code"] for d in json.loads(Path("out/report.json").read_text())] == ["WAL001"]


def test_statistics(store):
    Path("markers.py").write_text(VULNERABLE)
    result = _cli("--statistics", ".")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "2\tWAL001\t[*] unguarded-fallback",
        "1\tWAL002\t[*] transient-marker",
        "Found 3 errors.",
        # The markers are named as such but never tested in sight: an unsafe removal.
        "[*] 2 fixable with the `--fix` option (1 hidden fix can be enabled with the `--unsafe-fixes` option).",
    ]
    as_json = json.loads(_cli("--statistics", "--output-format", "json", ".").output)
    assert as_json[0] == {"code": "WAL001", "name": "unguarded-fallback", "count": 2, "fixable": True}


def test_statistics_text_unit():
    findings = [_finding("a.py", fix=FIX), _finding("b.py")]
    assert statistics.render_text(findings, _context(show_summary=False)) == "2\tWAL001\t[*] unguarded-fallback\n"


def test_exit_zero_and_quiet(store):
    result = _cli("--exit-zero", "--quiet", "--output-format", "concise", store)
    assert result.exit_code == 0
    assert result.output.splitlines() == ["store.py:5:9: WAL001 [*] Journal mode `DELETE` set in an `except` handler without checking that the database is not already in WAL on disk"]
    Path("clean.py").write_text("x = 1\n")
    assert _cli("--quiet", "clean.py").output == ""


def test_errors_still_exit_2_with_exit_zero(store):
    result = _cli("--exit-zero", store, "missing.py")
    assert result.exit_code == 2


def test_explain_prints_the_rule_page():
    result = CliRunner().invoke(main, ["explain", "wal001"])
    assert result.exit_code == 0 and result.output == render_page(RULES_BY_CODE["WAL001"])


# ----- files that could not be checked are part of every report ------------------------


def test_every_format_reports_a_file_that_could_not_be_checked(store):
    errors = (("huge.py", "too large to check"),)
    context = _context(errors=errors)
    for name in ("full", "concise"):
        text = FORMATS[name]([], context)
        assert "All checks passed!" not in text
        assert text.splitlines()[-1] == "1 file could not be checked (see the errors above)."
    assert json.loads(FORMATS["json"]([], context)) == [
        {
            "code": "E902",
            "message": "too large to check",
            "filename": "huge.py",
            "location": {"row": 1, "column": 1},
            "end_location": {"row": 1, "column": 1},
            "fix": None,
            "url": None,
            "noqa_row": None,
        }
    ]
    assert [json.loads(line)["code"] for line in FORMATS["json-lines"]([_finding(store)], context).splitlines()] == [
        "E902",
        "WAL001",
    ]
    assert FORMATS["github"]([], context) == "::error file=huge.py,title=E902::could not be checked: too large to check\n"
    assert json.loads(FORMATS["gitlab"]([], context))[0]["check_name"] == "E902"
    sarif = FORMATS["sarif"]([], context)
    _validate_sarif(sarif)
    (invocation,) = json.loads(sarif)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["message"]["text"] == "could not be checked: too large to check"
    assert statistics.render_text([], context).splitlines()[-1].startswith("1 file could not be checked")


def test_cli_never_says_all_checks_passed_over_an_unchecked_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("ok.py").write_text("x = 1\n")
    os.symlink("gone.py", "dangling.py")
    for name in FORMATS:
        result = CliRunner().invoke(main, ["check", "--no-cache", "--output-format", name, "ok.py", "dangling.py"])
        assert result.exit_code == 2, (name, result.output)
        assert "All checks passed!" not in result.output
        assert "dangling.py" in result.output, name
        if name not in ("full", "concise"):
            assert "E902" in result.output or "could not be checked" in result.output, name
    fixed = CliRunner().invoke(main, ["fix", "--no-cache", "ok.py", "dangling.py"])
    assert fixed.exit_code == 2 and "All checks passed!" not in fixed.output
    assert "1 file could not be checked" in fixed.output
