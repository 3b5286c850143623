"""The error-path dataflow (walint.flow.error_paths) on small functions: which states
reach which statement, path by path."""

from __future__ import annotations

import textwrap

import libcst as cst

from walint.flow.error_paths import ErrorPaths
from walint.flow.path_state import MAX_STATES, UNKNOWN, PathState, branch, truth


def _flow(source: str, attempts_wal: bool = True):
    module = cst.parse_module(textwrap.dedent(source))
    function = module.body[0]
    assert isinstance(function, cst.FunctionDef)
    flow = ErrorPaths(lambda node: attempts_wal).run(function.body.body, frozenset({PathState(False)}))
    marks = {}
    for node in _small_statements(function):
        code = module.code_for_node(node)
        if code.startswith("mark("):
            marks[code[5:-1]] = flow.states_before(node)
    return marks


def _small_statements(node):
    found = []

    class Collect(cst.CSTVisitor):
        def visit_Expr(self, expr):
            found.append(expr)

    node.visit(Collect())
    return found


def _summary(states):
    return sorted((s.failed, dict(s.env).get("mode", UNKNOWN)) for s in states) if states is not None else None


def test_a_handler_starts_a_failed_path_that_carries_its_values():
    marks = _flow(
        """
        def f(conn):
            mode = "wal"
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except Exception:
                mode = "delete"
            mark(after)
            if mode == "delete":
                mark(downgrade)
        """
    )
    assert _summary(marks["after"]) == [(False, "wal"), (True, "delete")]
    assert _summary(marks["downgrade"]) == [(True, "delete")]


def test_a_try_that_attempts_no_wal_starts_no_failed_path():
    marks = _flow(
        """
        def f(path):
            try:
                data = open(path).read()
            except OSError:
                mark(handler)
        """,
        attempts_wal=False,
    )
    assert _summary(marks["handler"]) == [(False, UNKNOWN)]


def test_return_raise_break_and_continue_end_their_paths():
    marks = _flow(
        """
        def f(conn, rows):
            ok = True
            for row in rows:
                if row:
                    continue
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    return conn
                except Exception:
                    ok = False
                    break
            mark(after_loop)
            while True:
                if ok:
                    raise RuntimeError
                break
            mark(after_while)
        """
    )
    assert sorted(s.failed for s in marks["after_loop"]) == [False, True]
    # `while True` is left only through the break, and only on the paths where ok is False.
    assert [s.failed for s in marks["after_while"]] == [True]


def test_else_and_finally_run_on_the_paths_that_reach_them():
    marks = _flow(
        """
        def f(conn):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except Exception:
                failed = True
            else:
                mark(in_else)
                failed = False
            finally:
                mark(in_finally)
        """
    )
    assert [s.failed for s in marks["in_else"]] == [False]
    assert sorted(s.failed for s in marks["in_finally"]) == [False, True]


def test_tests_are_evaluated_three_ways():
    state = PathState(False, (("flag", False), ("mode", "wal")))
    parse = cst.parse_expression
    assert truth(parse("not flag"), state) is True
    assert truth(parse("mode != 'wal' or flag"), state) is False
    assert truth(parse("mode in ('wal', None)"), state) is True
    assert truth(parse("other == 'x'"), state) is None
    when_true, when_false = branch(parse("other"), frozenset({state}))
    assert when_true == when_false == frozenset({state})


def test_states_stay_bounded():
    lines = "\n".join(f"    if c{i}:\n        v{i} = {i}" for i in range(2 * MAX_STATES))
    marks = _flow(f"def f():\n{lines}\n    mark(end)\n")
    assert 0 < len(marks["end"]) <= MAX_STATES


def test_a_call_of_a_wal_trying_function_splits_the_paths():
    module = cst.parse_module(
        "def f(conn):\n"
        "    if not try_wal(conn):\n"
        "        mark(failed)\n"
        "    ok = try_wal(conn)\n"
        "    mark(after)\n"
    )
    function = module.body[0]
    flow = ErrorPaths(lambda node: True, outcome=lambda call: ((True,), (False,))).run(
        function.body.body, frozenset({PathState(False)})
    )
    marks = {module.code_for_node(n)[5:-1]: flow.states_before(n) for n in _small_statements(function)}
    assert [s.failed for s in marks["failed"]] == [True]
    # A path that failed at the first call stays failed; each call splits again.
    assert {(s.failed, s.get("ok")) for s in marks["after"]} == {(False, True), (True, False), (True, True)}


def test_statements_no_path_reaches_are_recorded_as_unreached():
    marks = _flow(
        """
        def f(conn):
            ok = True
            if not ok:
                mark(never)
            return conn
            mark(dead)
        """
    )
    assert marks["never"] == frozenset() and marks["dead"] == frozenset()


def test_a_status_dict_with_a_computed_key_is_followed_without_error():
    """`STATE = {KEY: True, "wal": True}`: only constant keys are entries; the others are
    skipped, never read as strings."""
    from walint.engine import check_source
    from walint.settings import Settings

    source = b'''import sqlite3
KEY = "wal"
STATE = {KEY: True, "wal": True}
def probe(conn):
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        STATE["wal"] = False
def init(conn):
    probe(conn)
    if not STATE["wal"]:
        conn.execute("PRAGMA journal_mode=DELETE")
'''
    result = check_source("status.py", source, Settings())
    assert result.errors == ()
    assert [(f.location.row, f.code) for f in result.findings] == [(12, "WAL001")]


def test_dead_code_is_judged_as_if_it_ran_but_a_flag_that_never_fails_is_not():
    """After a `raise` at the top of a module nothing is reached, yet a fallback written
    there is still a fallback; a branch on a flag no handler clears stays quiet."""
    from walint.engine import check_source
    from walint.settings import Settings

    source = b'''import sqlite3
raise SystemExit("run main.py instead")
wal_ok = True
try:
    conn.execute("PRAGMA journal_mode=WAL")
except sqlite3.OperationalError:
    wal_ok = False
if not wal_ok:
    conn.execute("PRAGMA journal_mode=DELETE")
def never_fails(conn):
    ok = True
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        raise
    if not ok:
        conn.execute("PRAGMA journal_mode=DELETE")
'''
    result = check_source("dead.py", source, Settings())
    assert result.errors == ()
    assert [(f.location.row, f.code) for f in result.findings] == [(9, "WAL001")]
