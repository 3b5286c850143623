"""Rule docs: one source (the docstring) for `walint explain`, `walint rules`, SARIF and rules/*.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from walint.cli import main
from walint.docs import expected_pages, main as docs_main, render_page, stale_pages, write_pages
from walint.rules import ALL_RULES, RULES_BY_CODE

RULES_DIRECTORY = Path(__file__).resolve().parent.parent / "rules"


def test_rule_pages_are_up_to_date():
    stale = stale_pages(RULES_DIRECTORY)
    assert not stale, f"stale pages under rules/: {stale}; run `python -m walint.docs` from the repository root"


def test_stale_missing_and_orphaned_pages_are_found_and_rewritten(tmp_path):
    assert stale_pages(tmp_path) == sorted(expected_pages())
    write_pages(tmp_path)
    assert stale_pages(tmp_path) == []
    (tmp_path / "WAL001.md").write_text("# edited by hand\n")
    (tmp_path / "WAL999.md").write_text("# a rule that is gone\n")
    (tmp_path / "README.md").write_text("index, not a rule page\n")
    assert stale_pages(tmp_path) == ["WAL001.md", "WAL999.md"]
    assert docs_main(["--check", str(tmp_path)]) == 1
    assert docs_main([str(tmp_path)]) == 0
    assert docs_main(["--check", str(tmp_path)]) == 0
    assert not (tmp_path / "WAL999.md").exists() and (tmp_path / "README.md").exists()


def test_python_dash_m_walint_docs_check_passes_on_the_repository():
    completed = subprocess.run(
        [sys.executable, "-m", "walint.docs", "--check", str(RULES_DIRECTORY)], capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout


def test_a_page_is_the_docstring_with_a_heading_and_status():
    page = render_page(RULES_BY_CODE["WAL001"])
    assert page.startswith("# unguarded-fallback (WAL001)\n\nFix is sometimes available. On by default.\n\n## What it does\n")
    assert RULES_BY_CODE["WAL001"].documentation() in page
    off = render_page(RULES_BY_CODE["WAL100"])
    assert "Off by default: select `WAL100` to turn it on." in off


def test_fix_availability_comes_from_the_rules_examples(monkeypatch):
    from walint.rules.base import ALWAYS, NEVER, Invalid

    rule = RULES_BY_CODE["WAL002"]
    examples = [example for example in rule.INVALID if "expect: WAL002" in example.code]
    monkeypatch.setattr(rule, "INVALID", tuple(Invalid(e.code, fixed=e.fixed or e.code) for e in examples))
    assert rule.fix_availability() == ALWAYS
    assert "Fix is always available." in render_page(rule)
    monkeypatch.setattr(rule, "INVALID", tuple(Invalid(e.code) for e in examples))
    assert rule.fix_availability() == NEVER
    assert "Fix is not available." in render_page(rule)
    rows = json.loads(CliRunner().invoke(main, ["rules", "--output-format", "json"]).output)
    assert {row["code"]: row["fixable"] for row in rows}["WAL002"] is False


def test_rules_lists_code_name_fixable_default_as_text_and_json():
    listing = CliRunner().invoke(main, ["rules"])
    assert listing.exit_code == 0
    header, *lines = listing.output.splitlines()
    rows = [line for line in lines if not line.startswith(" ")]  # a wrapped summary goes on
    assert header.split() == ["Code", "Name", "Fixable", "Default", "Summary"]
    assert [row.split()[:4] for row in rows] == [
        [rule.code, rule.name, "yes" if rule.fixable() else "no", "on" if rule.default_enabled else "off"] for rule in ALL_RULES
    ]
    as_json = json.loads(CliRunner().invoke(main, ["rules", "--output-format", "json"]).output)
    assert [row["code"] for row in as_json] == [rule.code for rule in ALL_RULES]
    wal100 = as_json[-1]
    assert wal100["name"] == "unused-suppression" and wal100["default_enabled"] is False
    assert wal100["explanation"] == RULES_BY_CODE["WAL100"].documentation()


def test_explain_matches_the_page_and_rejects_unknown_codes():
    for rule in ALL_RULES:
        result = CliRunner().invoke(main, ["explain", rule.code.lower()])
        assert result.exit_code == 0 and result.output == (RULES_DIRECTORY / f"{rule.code}.md").read_text()
    unknown = CliRunner().invoke(main, ["explain", "WAL999"])
    assert unknown.exit_code == 2 and "unknown rule code 'WAL999'" in unknown.output
