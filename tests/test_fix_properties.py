"""Property tests of `walint fix` on generated modules (strategies from tests/strategies.py).

For any generated module: the fixed code parses and compiles, a second fix changes
nothing, no finding that still has a fix is left behind, and a module without findings
comes back byte-identical. ``--hypothesis-profile=long`` runs thousands of examples.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import libcst as cst
from hypothesis import given, note, settings

from memory import fix_bytes
from strategies import clean_modules, hypothesmith_programs, modules, projects
from walint.discovery import discover
from walint.fixer import fix
from walint.settings import Settings

SETTINGS = Settings()

# Each example runs several whole fix rounds: a third of the profile's examples (ten in
# CI, a thousand with --hypothesis-profile=long).
_FEWER = settings(max_examples=max(5, settings.default.max_examples // 3))


def _assert_valid(code: bytes) -> None:
    cst.parse_module(code)
    compile(code, "<fixed>", "exec", dont_inherit=True)


def _fix(source: bytes, unsafe: bool = True):
    fixed, run = fix_bytes("generated.py", source, SETTINGS, unsafe=unsafe)
    assert run.converged
    assert not run.errors, run.errors
    return fixed, run


@_FEWER
@given(modules())
def test_fixed_code_parses_is_idempotent_and_leaves_no_fixable_finding(module):
    source = module.source.encode()
    fixed, run = _fix(source)
    note(fixed.decode())
    _assert_valid(fixed)
    assert all(f.fix is None for f in run.remaining), [f for f in run.remaining if f.fix is not None]
    again, second = _fix(fixed)
    assert again == fixed
    assert second.fixed == 0


@_FEWER
@given(modules())
def test_safe_fixes_alone_also_settle(module):
    fixed, run = _fix(module.source.encode(), unsafe=False)
    _assert_valid(fixed)
    assert all(f.fix is None or not f.fix.is_safe for f in run.remaining)


@given(clean_modules())
def test_a_module_without_findings_is_byte_identical(module):
    source = module.source.encode()
    fixed, run = _fix(source)
    assert run.fixed == 0
    assert fixed == source


@given(hypothesmith_programs())
def test_fix_never_breaks_programs_from_the_grammar(program):
    source = program.encode()
    try:
        reproduced = cst.parse_module(source).bytes == source
    except cst.ParserSyntaxError:
        # hypothesmith writes some programs LibCST rejects ("\\\r\n" at the end): a
        # WAL000, never rewritten.
        reproduced = False
    if not reproduced:
        # A layout LibCST cannot reproduce: fix must refuse the file, never rewrite it.
        fixed, run = fix_bytes("generated.py", source, SETTINGS, unsafe=True)
        assert fixed == source
        return
    fixed, run = _fix(source)
    if run.fixed == 0:
        assert fixed == source
    else:
        _assert_valid(fixed)


@_FEWER
@given(projects(max_files=3))
def test_fixing_a_project_writes_code_that_parses_and_settles(project):
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for relative, text in project.files:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text)
        (root / "app" / "__init__.py").touch()
        candidates = discover([str(root)])
        run = fix(candidates, SETTINGS, [str(root)], unsafe=True, write=False)
        assert run.converged and not run.errors, run.errors
        for display, (_, after) in run.changes.items():
            _assert_valid(after)
            Path(display).write_bytes(after)
        again = fix(discover([str(root)]), SETTINGS, [str(root)], unsafe=True, write=False)
        assert again.changes == {}
