"""Fix fixtures: `walint fix` turns each ``fixtures/fix/case.py`` into ``case.fixed.py``, byte for byte.

A case without a ``.fixed.py`` has nothing to fix and must come out byte-identical. Cases
named ``unsafe_*`` are fixed with ``--unsafe-fixes``. The fixed files mark with
``# expect: CODE`` the findings that have no automatic fix and so remain.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from expectations import actual_marks, describe_mismatch, expected_marks
from walint.cli import run
from walint.discovery import discover
from walint.runner import check_files
from walint.settings import Settings

FIX_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fix"
CASES = sorted(p for p in FIX_FIXTURES.glob("*.py") if not p.name.endswith(".fixed.py"))


def _expected(case: Path) -> bytes:
    fixed = case.with_name(case.stem + ".fixed.py")
    return fixed.read_bytes() if fixed.exists() else case.read_bytes()


def _fix_args(case: Path) -> list:
    return ["fix", "--quiet"] + (["--unsafe-fixes"] if case.name.startswith("unsafe_") else [])


def test_every_fixable_rule_has_fix_fixtures():
    assert len(CASES) >= 10
    assert any(not c.with_name(c.stem + ".fixed.py").exists() for c in CASES), "a case with nothing to fix"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_fix_produces_the_fixed_file(case, tmp_path, capsys):
    target = tmp_path / case.name
    shutil.copyfile(case, target)
    run(_fix_args(case) + [str(target)])
    assert target.read_bytes() == _expected(case)

    # Idempotent: fixing the result again changes nothing.
    run(_fix_args(case) + [str(target)])
    assert target.read_bytes() == _expected(case)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_only_marked_findings_remain_after_the_fix(case, tmp_path):
    target = tmp_path / case.name
    target.write_bytes(_expected(case))
    findings = check_files(discover([str(target)]), Settings()).findings
    mismatch = describe_mismatch(case.stem + ".fixed.py", expected_marks(target.read_bytes().decode("latin-1")), actual_marks(findings))
    assert not mismatch, mismatch
    for finding in findings:
        assert finding.fix is None or not finding.fix.is_safe, f"{finding} still has a safe fix"


@pytest.mark.parametrize("case", [c for c in CASES if c.with_name(c.stem + ".fixed.py").exists()], ids=lambda p: p.stem)
def test_diff_writes_nothing_and_exits_1(case, tmp_path, capsys):
    target = tmp_path / case.name
    shutil.copyfile(case, target)
    code = run(["fix", "--diff"] + _fix_args(case)[2:] + [str(target)])
    out = capsys.readouterr().out
    assert code == 1
    assert target.read_bytes() == case.read_bytes()
    assert out.startswith(f"--- {target}\n+++ {target}\n@@ ")


def test_a_directory_of_cases_fixes_like_one_file_at_a_time(tmp_path):
    """The project pass and the rounds give the same result on the whole tree."""
    tree = tmp_path / "tree"
    shutil.copytree(FIX_FIXTURES, tree)
    for fixed in tree.glob("*.fixed.py"):
        fixed.unlink()
    for unsafe in tree.glob("unsafe_*.py"):
        unsafe.unlink()
    assert run(["fix", "--quiet", str(tree)]) == 1  # event_log.py keeps an async finding
    for case in tree.glob("*.py"):
        assert case.read_bytes() == _expected(FIX_FIXTURES / case.name), case.name


def test_safe_mode_leaves_unsafe_fixes_alone(tmp_path, capsys):
    case = FIX_FIXTURES / "unsafe_handler_state.py"
    target = tmp_path / case.name
    shutil.copyfile(case, target)
    assert run(["fix", str(target)]) == 1
    assert target.read_bytes() == case.read_bytes()
    assert "No fixes available (1 hidden fix can be enabled with the `--unsafe-fixes` option)." in capsys.readouterr().out
