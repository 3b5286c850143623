"""Fixed code passes the linters people already run: ruff's import sorting (I001) and line
length (E501), with ruff's default settings, on every fix fixture and on import layouts
the fixtures do not cover.

ruff runs in a temporary directory, so that the package under test (`walint/` at the
root of this checkout) does not count as first-party: to the code it fixes, walint is a
third-party package.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from memory import fix_bytes
from walint.settings import Settings
from walint.text import source_encoding

FIX_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fix"

pytest.importorskip("ruff")

GUARDED = (
    "    if use_wal:\n"
    "        try:\n"
    "            conn.execute('PRAGMA journal_mode=WAL')\n"
    "        except sqlite3.OperationalError:\n"
    "            use_wal = False\n"
    "    if not use_wal:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)
FALLBACK = (
    "def enable(conn):\n"
    "    try:\n"
    "        conn.execute('PRAGMA journal_mode=WAL')\n"
    "    except sqlite3.OperationalError:\n"
    "        conn.execute('PRAGMA journal_mode=DELETE')\n"
)
DEEP_GUARD = (
    "class Store:\n"
    "    def open(self, conn, use_wal):\n"
    "        for attempt in range(3):\n"
    "            with self.lock:\n"
    "                if use_wal:\n"
    "                    try:\n"
    "                        conn.execute('PRAGMA journal_mode=WAL')\n"
    "                    except sqlite3.OperationalError:\n"
    "                        use_wal = False\n"
    "                if not use_wal:\n"
    "                    conn.execute('PRAGMA journal_mode=DELETE')\n"
)

# Import layouts: the fix must add its import where isort would.
LAYOUTS = {
    "stdlib_only": "import sqlite3\n\n\n" + FALLBACK,
    "future_and_stdlib": "from __future__ import annotations\n\nimport logging\nimport sqlite3\n\n\n" + FALLBACK,
    "third_party_after": "import sqlite3\n\nimport attr\nimport zzz_lib\nfrom yarl import URL\n\n\n" + FALLBACK,
    "local_imports": "import sqlite3\n\nfrom . import models\n\n\n" + FALLBACK,
    "docstring_no_imports": '"""Store."""\n\n\n' + FALLBACK.replace("sqlite3.OperationalError", "Exception"),
    "deep_guard": "import sqlite3\n\n\n" + DEEP_GUARD,
    "existing_helper_import": "import sqlite3\n\nfrom walint.runtime import journal_mode_on_disk\n\n\n"
    + FALLBACK
    + "\n\nprint(journal_mode_on_disk)\n",
}


def _ruff(directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "I,E501", "--isolated", "--no-cache", "--output-format", "concise", "."],
        cwd=directory,
        capture_output=True,
        text=True,
    )


def _as_utf8(data: bytes) -> bytes:
    """ruff reads UTF-8 only: a Latin-1 fixture is checked transcoded, its cookie and
    line count kept."""
    encoding = source_encoding(data)
    if encoding.replace("_", "-").lower() in ("utf-8", "utf-8-sig"):
        return data
    text = data.decode(encoding).replace(f"coding: {encoding}", "coding: utf-8")
    return text.encode("utf-8")


def test_every_fixed_fixture_passes_ruffs_import_sorting_and_line_length(tmp_path):
    fixed = sorted(FIX_FIXTURES.glob("*.fixed.py"))
    assert fixed
    for path in fixed:
        (tmp_path / path.name).write_bytes(_as_utf8(path.read_bytes()))
    result = _ruff(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "warning" not in result.stderr.lower(), result.stderr


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_the_added_import_lands_where_isort_puts_a_third_party_import(name, tmp_path):
    source = LAYOUTS[name]
    fixed, run = fix_bytes(f"{name}.py", source.encode(), Settings(), unsafe=True)
    assert not run.errors and fixed != source.encode(), name
    (tmp_path / f"{name}.py").write_bytes(fixed)
    result = _ruff(tmp_path)
    assert result.returncode == 0, fixed.decode() + result.stdout + result.stderr
    assert b"from walint.runtime import " in fixed
