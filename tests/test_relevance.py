"""The functions of a module that cannot matter to the journal mode are left alone
(walint.journal.relevance), and leaving them alone changes nothing: on every fixture and
rule example, the findings and the summary are those of a model that walks every function."""

from __future__ import annotations

from pathlib import Path
from typing import List, Tuple

import libcst as cst
import pytest

from walint.engine import active_model_rules
from walint.journal.model import ModuleModel
from walint.rules import ALL_RULES
from walint.settings import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _parses(source: bytes) -> bool:
    try:
        cst.parse_module(source)
    except Exception:
        return False  # WAL000's fixtures and examples
    return True


SOURCES = [
    pytest.param(source, id=name)
    for source, name in [
        *((path.read_bytes(), str(path.relative_to(FIXTURES))) for path in sorted(FIXTURES.rglob("*.py"))),
        *(
            (example.code.encode(), f"{rule.code}-{kind}-{index}")
            for rule in ALL_RULES
            for kind, examples in (("valid", rule.VALID), ("invalid", rule.INVALID))
            for index, example in enumerate(examples)
        ),
    ]
    if _parses(source)
]


class _EverythingHot:
    """A relevance under which every function matters: the model as it was before."""

    def __init__(self, model: ModuleModel) -> None:
        self.hot_units = list(model.units)

    def is_hot(self, unit: object) -> bool:
        return True

    def may_be_interesting(self, unit: object) -> bool:
        return True


def _analyse(source: bytes, everything: bool) -> Tuple[List[Tuple[str, int, str]], object]:
    settings = Settings(extend_select=("WAL100",))
    model = ModuleModel(cst.parse_module(source), path="module.py")
    if everything:
        model.__dict__["relevance"] = _EverythingHot(model)
    found = sorted(
        (rule.code, model.line_of(report.node), report.message)
        for rule in active_model_rules(settings)
        for report in rule(settings).check(model)
    )
    return found, model.summary()


@pytest.mark.parametrize("source", SOURCES)
def test_leaving_cold_functions_alone_changes_no_finding_and_no_summary(source):
    assert _analyse(source, everything=False) == _analyse(source, everything=True)


def _hot_names(source: str) -> List[str]:
    model = ModuleModel(cst.parse_module(source))
    return [unit.qualname for unit in model.hot_units if unit is not model.module_unit]


def test_only_functions_that_reach_the_journal_are_hot():
    source = '''
import sqlite3

FALLBACK = "delete"

def parse_row(row):
    return {k: v for k, v in row.items() if v}

def render(rows):
    return "\\n".join(parse_row(r) for r in rows)

def _rollback(conn):
    conn.execute(f"PRAGMA journal_mode={FALLBACK}")

def open_board(path):
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        _rollback(conn)
    return conn
'''
    assert _hot_names(source) == ["_rollback", "open_board"]


def test_an_attribute_holding_a_downgrade_makes_its_class_s_readers_hot():
    source = '''
def use_delete(conn):
    conn.execute("PRAGMA journal_mode=DELETE")

class Board:
    def __init__(self, on_failure=use_delete):
        self.on_failure = on_failure

    def recover(self, conn):
        self.on_failure(conn)

    def title(self):
        return "board"

class Other:
    def recover(self, conn):
        self.on_failure(conn)
'''
    assert _hot_names(source) == ["use_delete", "Board.__init__", "Board.recover"]


def test_what_the_project_pass_knows_of_makes_a_function_hot():
    source = '''
from .store import reset_journal

def maintenance(conn):
    reset_journal(conn)

def unrelated():
    return 1
'''
    model = ModuleModel(cst.parse_module(source), external_names=[".store.reset_journal"])
    assert [u.qualname for u in model.hot_units if u is not model.module_unit] == ["maintenance"]


def test_python_s_own_exec_runs_no_sql():
    source = '''
def run_snippet(code):
    exec(code)

def run_statement(db, statement):
    db.execute(statement)
'''
    model = ModuleModel(cst.parse_module(source))
    templates = {facts.qualname: facts.sql_templates for facts in model.summary().functions}
    assert "run_snippet" not in templates
    assert templates["run_statement"]


def test_a_configured_guard_is_hot_whatever_its_body():
    source = '''
def refuse_if_shared(conn):
    if read_header_flag(conn):
        raise RuntimeError("shared")

def unrelated():
    return 1
'''
    model = ModuleModel(cst.parse_module(source), guards=["refuse_if_shared"])
    assert [u.qualname for u in model.hot_units if u is not model.module_unit] == ["refuse_if_shared"]


def test_a_header_reader_is_hot_by_what_the_header_analysis_reads():
    # `read(512)` is a header block to walint.journal.header_versions, so its reader's
    # facts (it returns the versions) must reach importers.
    source = '''
def header_of(path):
    with open(path, "rb") as fh:
        return fh.read(512)

def body_of(path):
    with open(path, "rb") as fh:
        return fh.read(4096)
'''
    assert _hot_names(source) == ["header_of"]
