"""Behaviour that keeps walint fast: shapes that used to cost exponential time, what a run
parses and imports, and results that must not depend on how the work is split.

Nothing here is timed; a regression shows up as a test that never finishes.
"""

from __future__ import annotations

from walint.engine import check_source
from walint.settings import Settings


def test_a_name_rebuilt_from_itself_many_times_is_folded_once():
    # Each `sql = sql + ...` is a binding of `sql` built from `sql`: without a memo the
    # folder visits bindings ** depth expressions.
    lines = ["import sqlite3", "conn = sqlite3.connect('x.db')", "sql = 'PRAGMA '"]
    lines += [f"sql = sql + sql + 'journal_mode{i} '" for i in range(40)]
    lines += ["try:", "    conn.execute('PRAGMA journal_mode=WAL')", "except Exception:", "    conn.execute(sql)"]
    result = check_source("many.py", "\n".join(lines).encode() + b"\n", Settings())
    assert not result.errors


def test_nested_format_chains_are_folded_once():
    lines = ["import sqlite3", "conn = sqlite3.connect('x.db')", "a0 = 'wal'"]
    lines += [f"a{i} = '%s%s' % (a{i - 1}, a{i - 1}) if cond else a{i - 1}.format(a{i - 1})" for i in range(1, 30)]
    lines += ["if conn.execute('PRAGMA journal_mode').fetchone()[0] != a29:", "    conn.execute('PRAGMA journal_mode=delete')"]
    result = check_source("chain.py", "\n".join(lines).encode() + b"\n", Settings())
    assert not result.errors


def _tree(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


_HELPERS = (
    "import sqlite3\n\n"
    "def use_rollback_journal(conn):\n"
    "    conn.execute('PRAGMA journal_mode=DELETE')\n\n"
    "def open(path):\n"
    "    conn = sqlite3.connect(path)\n"
    "    conn.execute('PRAGMA journal_mode=DELETE')\n"
    "    return conn\n"
)


def _run(root):
    from walint.discovery import discover
    from walint.runner import check_files

    return check_files(discover([str(root)]), Settings(), roots=[str(root)])


def test_a_file_naming_only_a_common_helper_name_is_not_parsed_again(tmp_path):
    root = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/dbutil.py": _HELPERS,
            # Mentions `open` and `dbutil` but calls no downgrading helper.
            "pkg/reader.py": "from . import dbutil\n\ndef read(p):\n    with open(p) as f:\n        return f.read()\n",
            # Names the helper, but never imports the module that defines it.
            "other/use_rollback_journal_notes.py": "use_rollback_journal = None\n",
        },
    )
    result = _run(root)
    assert result.files_parsed == 1


def test_a_tokenless_caller_of_a_helper_is_checked_even_through_another_helper(tmp_path):
    root = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/dbutil.py": _HELPERS,
            "pkg/middle.py": "from .dbutil import use_rollback_journal\n\ndef fall_back_quietly(conn):\n    use_rollback_journal(conn)\n",
            "pkg/app.py": (
                "import sqlite3\nfrom pkg.middle import fall_back_quietly\n\n"
                "def start(path):\n    conn = sqlite3.connect(path)\n    try:\n        conn.execute('PRAGMA user_version')\n"
                "    except sqlite3.OperationalError:\n        fall_back_quietly(conn)\n    return conn\n"
            ),
        },
    )
    result = _run(root)
    assert result.files_parsed == 3
    assert [(f.path.rsplit("/", 1)[-1], f.code) for f in result.findings if "app.py" in f.path] == [("app.py", "WAL001")]


def _deeply_nested(parts: int) -> bytes:
    # Implicit concatenation nests one node per part, like Lib/pydoc_data/topics.py.
    body = "\n".join(f"    'part {i} '" for i in range(parts))
    return f"import sqlite3\n\nTOPICS = {{'journal_mode': (\n{body}\n)}}\n".encode()


def test_a_deeply_nested_file_is_analysed_on_a_deeper_stack():
    import sys

    limit = sys.getrecursionlimit()
    result = check_source("topics.py", _deeply_nested(3000), Settings())
    assert result.errors == () and result.findings == ()
    assert result.summary is not None
    assert sys.getrecursionlimit() == limit


def test_a_file_too_deep_even_for_that_is_a_skipped_wal000_not_an_internal_error(monkeypatch, tmp_path):
    from walint import cli, engine

    real = engine._check_source

    def too_deep(path, data, *args):
        if b"TOPICS" in data:
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, data, *args)

    monkeypatch.setattr(engine, "_check_source", too_deep)  # too deep even for a large stack
    result = check_source("topics.py", _deeply_nested(3000), Settings())
    assert result.errors == ()
    assert [(f.code, f.message) for f in result.findings] == [("WAL000", "Skipped: too deeply nested to analyse")]
    (tmp_path / "topics.py").write_bytes(_deeply_nested(3000))
    assert cli.run(["check", "--isolated", "--ignore", "WAL000", str(tmp_path)]) == 0


FIXTURES = __import__("pathlib").Path(__file__).resolve().parent.parent / "fixtures"


def _key(finding):
    return (finding.path, finding.code, finding.location, finding.end_location, finding.message)


def test_findings_do_not_depend_on_jobs_or_file_order(monkeypatch):
    from walint import runner
    from walint.discovery import discover

    monkeypatch.setattr(runner, "POOL_MIN_BYTES", 0)  # the fixtures are small: pool anyway
    files = discover([str(FIXTURES)])
    one = runner.check_files(files, Settings(), roots=[str(FIXTURES)], jobs=1)
    two = runner.check_files(list(reversed(files)), Settings(), roots=[str(FIXTURES)], jobs=2)
    assert one.findings and not one.errors and not two.errors
    assert list(map(_key, one.findings)) == list(map(_key, two.findings))
    assert one.files_parsed == two.files_parsed


def test_a_warm_cache_parses_nothing_and_reports_the_same(tmp_path, monkeypatch):
    import shutil

    import libcst

    from walint import cli

    project = tmp_path / "project"
    shutil.copytree(FIXTURES / "project", project)
    parses = []
    real_parse = libcst.parse_module
    monkeypatch.setattr(libcst, "parse_module", lambda source, *a, **k: parses.append(1) or real_parse(source, *a, **k))
    cache = tmp_path / "cache"
    argv = ["check", "--isolated", "--jobs", "1", "--cache-dir", str(cache), "--output-format", "json", "-o"]
    assert cli.run(argv + [str(tmp_path / "cold.json"), str(project)]) == 1
    assert parses, "the cold run parses"
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    parses.clear()
    assert cli.run(argv + [str(tmp_path / "warm.json"), str(project)]) == 1
    assert parses == []
    assert (tmp_path / "warm.json").read_text() == (tmp_path / "cold.json").read_text()
    # A changed file is analysed again; --no-cache reads and writes nothing.
    board = project / "kanban" / "board.py"
    board.write_text(board.read_text() + "\n# changed\n")
    assert cli.run(argv + [str(tmp_path / "changed.json"), str(project)]) == 1
    assert parses
    parses.clear()
    assert cli.run(argv + [str(tmp_path / "nocache.json"), "--no-cache", str(project)]) == 1
    assert parses


def test_a_clean_tree_is_checked_without_importing_libcst(tmp_path):
    import subprocess
    import sys

    (tmp_path / "plain.py").write_text("import sqlite3\n\nconn = sqlite3.connect('x.db')\n")
    script = (
        "import sys\n"
        "from walint.cli import run\n"
        f"code = run(['check', '--isolated', '--no-cache', {str(tmp_path)!r}])\n"
        "print('LIBCST' if 'libcst' in sys.modules else 'NO-LIBCST', code)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "NO-LIBCST 0"


def test_node_positions_agree_with_libcst_position_provider_on_every_node():
    import libcst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from walint.tree import NodePositions

    sources = sorted(FIXTURES.rglob("*.py"))[:20]
    assert len(sources) > 10
    for path in sources:
        try:
            module = libcst.parse_module(path.read_bytes())
        except libcst.ParserSyntaxError:
            continue
        expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        ours = NodePositions(module)
        assert all(ours[node] == span for node, span in expected.items()), path


def test_only_constants_that_can_matter_make_the_project_pass_analyse_a_file_again(tmp_path, monkeypatch):
    from walint import runner

    root = _tree(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/consts.py": "PLATFORM = 'posix'\nNEWLINE = '\\n'\nFALLBACK = 'truncate'\n",
            "pkg/db.py": (
                "import sqlite3\nfrom pkg.consts import PLATFORM, NEWLINE\n\n"
                "def open_db(path):\n    conn = sqlite3.connect(path)\n"
                "    conn.execute('PRAGMA journal_mode=WAL')\n    return conn\n"
            ),
            "pkg/fallback.py": (
                "import sqlite3\nfrom pkg.consts import FALLBACK\n\n"
                "def open_db(path):\n    conn = sqlite3.connect(path)\n    try:\n"
                "        conn.execute('PRAGMA journal_mode=WAL')\n    except sqlite3.OperationalError:\n"
                "        conn.execute(f'PRAGMA journal_mode={FALLBACK}')\n    return conn\n"
            ),
        },
    )
    again = []
    real = runner.check_source

    def spy(path, data, settings, external=None):
        if external is not None:
            again.append((path.rsplit("/", 1)[-1], sorted(external)))
        return real(path, data, settings, external)

    monkeypatch.setattr(runner, "check_source", spy)
    result = _run(root)
    assert again == [("fallback.py", ["pkg.consts.FALLBACK"])]
    assert [(f.path.rsplit("/", 1)[-1], f.code) for f in result.findings] == [("fallback.py", "WAL001")]


def _dies_on_crash_py(item):
    # Pickled by name into the pool's workers, which import this module.
    import os

    from walint import runner

    if item[0].endswith("crash.py"):
        os.abort()
    return runner.check_source(*item)


def test_a_file_that_crashes_its_worker_is_an_error_and_the_others_are_still_checked(tmp_path, monkeypatch):
    from walint import runner
    from walint.discovery import discover

    monkeypatch.setattr(runner, "POOL_MIN_BYTES", 0)
    # The worker dies on crash.py as it would if LibCST's native parser crashed (the
    # screen keeps every input known to crash it away from it).
    monkeypatch.setattr(runner, "_check_in_worker", _dies_on_crash_py)
    (tmp_path / "crash.py").write_text("journal_mode = 1\n")
    (tmp_path / "fine.py").write_text(
        "import sqlite3\nconn = sqlite3.connect('x')\ntry:\n    conn.execute('PRAGMA journal_mode=WAL')\n"
        "except sqlite3.OperationalError:\n    conn.execute('PRAGMA journal_mode=DELETE')\n"
    )
    result = runner.check_files(discover([str(tmp_path)]), Settings(), roots=[str(tmp_path)], jobs=2)
    assert [(p.rsplit("/", 1)[-1], e) for p, e in result.errors] == [
        ("crash.py", "the parser crashed on this file (its worker process died)")
    ]
    assert [(f.path.rsplit("/", 1)[-1], f.code) for f in result.findings] == [("fine.py", "WAL001")]


def test_check_source_leaves_the_garbage_collector_as_it_found_it():
    import gc

    assert gc.isenabled()
    check_source("a.py", b"conn.execute('PRAGMA journal_mode=WAL')\n", Settings())
    check_source("b.py", b"def f(:\n  journal_mode\n", Settings())
    assert gc.isenabled()
    gc.disable()
    try:
        check_source("a.py", b"conn.execute('PRAGMA journal_mode=WAL')\n", Settings())
        assert not gc.isenabled()
    finally:
        gc.enable()
