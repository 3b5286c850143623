"""Property tests: `walint check` on generated modules (tests/strategies.py).

- it never raises and never reports an internal error, on generated WAL code and on
  arbitrary programs from the Python grammar (hypothesmith);
- every hazard spliced into a module is reported, whatever context holds it, unless the
  context itself reads the mode on disk first (a guard);
- a hazard alone in contexts that change nothing about it gives exactly its findings, and
  near misses in those contexts give none;
- findings do not depend on the order in which the files are given.

Example counts come from the hypothesis profile (tests/conftest.py): small by default,
thousands with `--hypothesis-profile=long`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, note, settings
from hypothesis import strategies as st

from expectations import actual_marks, describe_mismatch, expected_marks
from strategies import (
    GeneratedModule,
    clean_modules,
    hypothesmith_programs,
    hypothesmith_with_hazard,
    modules,
    projects,
    single_hazard_modules,
)
from walint.cli import main
from walint.codes import PARSE_ERROR
from walint.engine import check_source
from walint.settings import Settings

SETTINGS = Settings()

# hypothesmith compiles what it generates, and Python warns about odd but valid code.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")


def _check(module: GeneratedModule):
    note(module.source)
    result = check_source("generated.py", module.data, SETTINGS)
    assert result.errors == (), result.errors
    assert all(f.code != PARSE_ERROR for f in result.findings), result.findings
    return actual_marks(result.findings)


@given(modules())
def test_every_spliced_hazard_is_reported_in_any_context(module):
    actual = _check(module)
    missed = module.expected - actual
    assert not missed, describe_mismatch("generated.py", missed, Counter())


@given(single_hazard_modules())
def test_a_hazard_in_neutral_contexts_gives_exactly_its_findings(module):
    actual = _check(module)
    assert actual == module.expected, describe_mismatch("generated.py", module.expected, actual)


@given(clean_modules())
def test_near_misses_in_neutral_contexts_stay_quiet(module):
    actual = _check(module)
    assert not actual, describe_mismatch("generated.py", module.expected, actual)


def _run_check(root: str, paths):
    previous = os.getcwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(main, ["check", "--isolated", "--output-format", "json", *paths])
    finally:
        os.chdir(previous)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code == 1, result.output
    assert result.stderr == ""
    return json.loads(result.stdout)


# Each example runs walint three times over a few files: a third of the profile's count.
@settings(max_examples=max(5, settings.default.max_examples // 3))
@given(projects(max_files=3), st.randoms(use_true_random=False))
def test_findings_do_not_depend_on_the_order_of_the_files(project, random):
    with tempfile.TemporaryDirectory() as root:
        for path, text in project.files:
            Path(root, path).parent.mkdir(parents=True, exist_ok=True)
            Path(root, path).write_text(text)
        paths = [path for path, _ in project.files]
        shuffled = list(paths)
        random.shuffle(shuffled)
        note(f"orders: {paths} and {shuffled}")
        given_in_order = _run_check(root, paths)
        assert _run_check(root, shuffled) == given_in_order
        assert _run_check(root, list(reversed(paths))) == given_in_order
    for path, expected in project.expected.items():
        actual = Counter(
            (entry["location"]["row"], entry["code"])
            for entry in given_in_order
            if os.path.normpath(entry["filename"]) == os.path.normpath(path)
        )
        missed = expected - actual
        assert not missed, describe_mismatch(path, missed, Counter())


@st.composite
def _corrupted(draw):
    """A generated module with a few bytes inserted, deleted or replaced at random."""
    data = bytearray(draw(modules(max_depth=2)).data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.sampled_from([0, 0x0C, 0x0D, 0x1E, 0x22, 0x27, 0x28, 0x5C, 0x80, 0xC3, 0xFF]) | st.integers(0, 255))
        if edit == "insert" or at == len(data):
            data.insert(at, byte)
        elif edit == "delete":
            del data[at]
        else:
            data[at] = byte
    return bytes(data)


@given(_corrupted())
def test_check_never_raises_on_corrupted_modules(data):
    """Bytes Python rejects are a WAL000 finding; the only error is the clear one for
    Python that LibCST cannot parse (a form feed inside an indented block, say)."""
    result = check_source("generated.py", data, SETTINGS)
    assert all(e.startswith("not analysed: LibCST cannot parse") for e in result.errors), result.errors


@given(hypothesmith_programs())
def test_check_never_raises_on_programs_from_the_grammar(program):
    result = check_source("generated.py", program.encode("utf-8"), SETTINGS)
    assert not [e for e in result.errors if "internal error" in e], result.errors


@given(hypothesmith_with_hazard())
def test_a_hazard_appended_to_a_grammar_generated_program_is_reported(case):
    source, snippet = case
    result = check_source("generated.py", source.encode("utf-8"), SETTINGS)
    assert not [e for e in result.errors if "internal error" in e], result.errors
    if any(f.code == PARSE_ERROR for f in result.findings) or result.errors:
        return  # LibCST's grammar is not CPython's; nothing more is promised then
    import libcst

    if libcst.parse_module(source).code != source:
        # LibCST drops a line holding only a backslash continuation, and every position
        # after it is one line early (test_hostile_inputs shows it, xfail).
        return
    expected = expected_marks(source)
    missed = expected - actual_marks(result.findings)
    assert not missed, describe_mismatch("generated.py", missed, Counter())
