"""Whole-project context: a file's findings do not depend on which files are named.

For any subset S of a project's files, `walint check S` reports exactly the findings of
`walint check .` that lie in S (issue 12, item 3).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walint.cli import main

HELPERS = {
    "direct": 'def fall_back(conn):\n    conn.execute("PRAGMA journal_mode=DELETE")\n',
    "default": 'def fall_back(conn, mode="TRUNCATE"):\n    conn.execute(f"PRAGMA journal_mode={mode}")\n',
    "constant": 'from .consts import FALLBACK\n\n\ndef fall_back(conn):\n    conn.execute("PRAGMA journal_mode=" + FALLBACK)\n',
}
IMPORTS = {
    "relative": ("from .helper import fall_back\n", "fall_back(conn)"),
    "absolute": ("from pkg.helper import fall_back\n", "fall_back(conn)"),
    "module": ("from pkg import helper\n", "helper.fall_back(conn)"),
}


def caller(style: str, in_handler: bool) -> str:
    imported, call = IMPORTS[style]
    body = (
        f"    try:\n        conn.execute('PRAGMA journal_mode=WAL')\n    except sqlite3.OperationalError:\n        {call}\n"
        if in_handler
        else f"    {call}\n"
    )
    return f"import sqlite3\n\n{imported}\n\ndef open_db(path):\n    conn = sqlite3.connect(path)\n{body}    return conn\n"


projects = st.fixed_dictionaries(
    {
        "helper": st.sampled_from(sorted(HELPERS)),
        "callers": st.lists(st.tuples(st.sampled_from(sorted(IMPORTS)), st.booleans()), min_size=1, max_size=3),
        "outside": st.booleans(),  # a caller outside the package, importing it absolutely
    }
)


def write_project(root: Path, spec: Dict[str, object]) -> List[str]:
    (root / ".git").mkdir()
    package = root / "pkg"
    package.mkdir()
    files = {"pkg/__init__.py": "", "pkg/helper.py": HELPERS[spec["helper"]]}  # type: ignore[index]
    if spec["helper"] == "constant":
        files["pkg/consts.py"] = 'FALLBACK = "DELETE"\n'
    for number, (style, in_handler) in enumerate(spec["callers"]):  # type: ignore[arg-type]
        files[f"pkg/caller{number}.py"] = caller(style, in_handler)
    if spec["outside"]:
        files["app.py"] = caller("absolute", True)
    for name, text in files.items():
        (root / name).write_text(text)
    return sorted(files)


def findings(root: Path, paths: Sequence[str]) -> List[Tuple[str, int, str]]:
    previous = os.getcwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(main, ["check", "--no-cache", "--output-format", "json", *paths])
    finally:
        os.chdir(previous)
    assert result.exit_code in (0, 1), result.output
    return sorted((os.path.normpath(f["filename"]), f["location"]["row"], f["code"]) for f in json.loads(result.stdout))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=projects, data=st.data())
def test_a_subset_reports_what_the_whole_project_reports_there(spec: Dict[str, object], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        files = write_project(root, spec)
        everything = findings(root, ["."])
        handled = [n for n, (_, in_handler) in enumerate(spec["callers"]) if in_handler]  # type: ignore[arg-type]
        for number in handled:
            assert any(f[0] == f"pkg/caller{number}.py" and f[2] == "WAL001" for f in everything), everything
        for _ in range(2):
            subset = data.draw(st.lists(st.sampled_from(files), min_size=1, max_size=len(files), unique=True))
            full = {os.path.abspath(root / p) for p in subset}
            expected = [f for f in everything if os.path.abspath(root / f[0]) in full]
            assert findings(root, subset) == expected, subset


def test_the_fixture_reports_the_same_whether_the_file_or_its_folder_is_named() -> None:
    folder = Path(__file__).parent.parent / "fixtures" / "project" / "kanban"
    attachments = str(folder / "attachments.py")
    alone = CliRunner().invoke(main, ["check", "--no-cache", "--output-format", "concise", attachments])
    assert "attachments.py:15:9: WAL001" in alone.stdout


def test_stdin_named_inside_a_project_uses_the_project_as_context() -> None:
    folder = Path(__file__).parent.parent / "fixtures" / "project" / "kanban"
    source = (folder / "attachments.py").read_bytes()
    result = CliRunner().invoke(
        main, ["check", "-", "--stdin-filename", str(folder / "attachments.py"), "--output-format", "concise"], input=source
    )
    assert "attachments.py:15:9: WAL001" in result.stdout


def test_verbose_says_where_the_time_went() -> None:
    folder = Path(__file__).parent.parent / "fixtures" / "project" / "kanban"
    result = CliRunner().invoke(main, ["check", "--no-cache", "-v", "-q", str(folder / "attachments.py")])
    for phase in ("discovery", "prefilter", "analyse", "project", "report"):
        assert f"walint: {phase}" in result.stderr
    assert "project root" in result.stderr


HASH_SEED_PROJECT = Path(__file__).parent / "data" / "hash_seed"


def _findings_in_a_process(root: Path, seed: str) -> List[Tuple[str, int, str]]:
    import subprocess
    import sys

    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    completed = subprocess.run(
        [sys.executable, "-m", "walint", "check", "--isolated", "--no-cache", "--jobs", "1", "--output-format", "json", str(root)],
        capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=300,
    )
    assert completed.returncode in (0, 1), completed.stderr
    return sorted((Path(d["filename"]).name, d["location"]["row"], d["code"]) for d in json.loads(completed.stdout))


def test_every_use_an_importer_hands_over_is_judged_whatever_the_hash_seed():
    """Two fields of one class tested by an importer: each use is walked, whichever comes
    first (a node made for one use, then freed, once lent its id to the next)."""
    expected = ("config.py", 13, "WAL002")
    results = [_findings_in_a_process(HASH_SEED_PROJECT, seed) for seed in ("0", "1", "2")]
    assert all(expected in found for found in results), results
    assert results[0] == results[1] == results[2]


class _OneFile:
    """An analyser's file access, for ``_may_look_up``: one file, already read."""

    def __init__(self, data: bytes) -> None:
        self.paths = {"report.py": Path("report.py")}
        self._data = data

    def read(self, path: Path) -> Tuple[bytes, None]:
        return self._data, None


def test_a_file_is_analysed_again_only_when_it_names_what_changed() -> None:
    from walint.project_pass import _may_look_up
    from walint.summary import IMPORTERS_USES, ModuleSummary

    module_import = ModuleSummary("report.py", imports=("store",))

    def looks_up(source: str, keys: Sequence[str], summary: ModuleSummary = module_import) -> bool:
        return _may_look_up(_OneFile(source.encode()), "report.py", summary, keys)  # type: ignore[arg-type]

    assert not looks_up("import store\nstore.render()\n", ["store.reset_journal"])
    assert looks_up("import store\nstore.reset_journal(conn)\n", ["store.reset_journal"])
    # Its own constant of the same name is not the imported one.
    assert not looks_up('import store\n_PRAGMA = "x"\n', ["store._PRAGMA"])
    # `Board()` runs `Board.__init__`; `self.reset()` in a subclass, the base's `reset`.
    assert looks_up("import store\nboard = store.Board()\n", ["store.Board.__init__"])
    assert looks_up("import store\nclass Mine(store.Board):\n    def go(self):\n        self.reset()\n", ["store.Board.reset"])
    # A name imported by name, and the uses importers make of this file, always may matter.
    by_name = ModuleSummary("report.py", imports=("store.reset_journal",))
    assert looks_up("from store import reset_journal\n", ["store.reset_journal"], by_name)
    # `with best_effort():` runs the `__exit__` of a class imported by name.
    by_class = ModuleSummary("report.py", imports=("errors.best_effort",))
    assert looks_up("from errors import best_effort\nwith best_effort():\n    pass\n", ["errors.best_effort.__exit__"], by_class)
    assert looks_up("import store\n", [IMPORTERS_USES])
