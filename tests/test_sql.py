"""Journal-mode recognition: every string-building form and API, and everything that is not a sink."""

from __future__ import annotations

import textwrap

import pytest

from walint.engine import check_source
from walint.settings import Settings
from walint.sql import modes_set_by_sql, reads_journal_mode


@pytest.mark.parametrize(
    "sql, modes",
    [
        ("PRAGMA journal_mode=DELETE", ["delete"]),
        ("pragma journal_mode = truncate", ["truncate"]),
        ("  PRAGMA   journal_mode\n  =  'persist' ;", ["persist"]),
        ('PRAGMA main.journal_mode = "MEMORY"', ["memory"]),
        ('PRAGMA "main" . journal_mode=off', ["off"]),
        ("PRAGMA journal_mode('delete')", ["delete"]),
        ("PRAGMA journal_mode = WAL", ["wal"]),
        ("PRAGMA foreign_keys=ON; PRAGMA journal_mode=DELETE; VACUUM;", ["delete"]),
        ("PRAGMA journal_mode=DELETE -- fall back", ["delete"]),
        ("PRAGMA journal_mode", []),
        ("PRAGMA wal_checkpoint(TRUNCATE)", []),
        ("SELECT journal_mode FROM pragma_journal_mode", []),
        ("PRAGMA journal_size_limit=0", []),
    ],
)
def test_modes_set_by_sql(sql, modes):
    assert modes_set_by_sql(sql) == modes


@pytest.mark.parametrize(
    "sql, reads",
    [
        ("PRAGMA journal_mode", True),
        ("pragma main.journal_mode;", True),
        ("SELECT * FROM pragma_journal_mode", True),
        ("select journal_mode from pragma_journal_mode()", True),
        ("PRAGMA journal_mode=WAL", False),
        ("PRAGMA wal_checkpoint(TRUNCATE)", False),
    ],
)
def test_reads_journal_mode(sql, reads):
    assert reads_journal_mode(sql) is reads


def _in_handler(statement: str, prelude: str = "") -> str:
    """A realistic WAL setup whose handler runs ``statement``."""
    return textwrap.dedent(prelude) + textwrap.dedent(
        """
        def enable_wal(conn, db):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except Exception:
                {statement}
        """
    ).format(statement=statement)


def _codes(source: str):
    result = check_source("t.py", source.encode(), Settings(select=("WAL001",)))
    assert not result.errors
    return [(f.location.row, f.code) for f in result.findings]


SINKS = [
    pytest.param('conn.execute("PRAGMA journal_mode=DELETE")', "", id="literal"),
    pytest.param("conn.execute('PRAGMA journal_mode=' 'DELETE')", "", id="implicit-concatenation"),
    pytest.param('conn.execute("PRAGMA journal_mode=" + "truncate")', "", id="plus"),
    pytest.param('conn.execute("PRAGMA journal_mode=%s" % "DELETE")', "", id="percent"),
    pytest.param('conn.execute("PRAGMA %s=%s" % ("journal_mode", MODE))', 'MODE = "delete"\n', id="percent-tuple"),
    pytest.param('conn.execute("PRAGMA %(p)s=%(m)s" % {"p": "journal_mode", "m": "off"})', "", id="percent-dict"),
    pytest.param('conn.execute("PRAGMA journal_mode={}".format("delete"))', "", id="format-positional"),
    pytest.param('conn.execute("PRAGMA journal_mode={mode}".format(mode=MODE))', 'MODE = "persist"\n', id="format-keyword"),
    pytest.param('conn.execute(f"PRAGMA journal_mode={MODE}")', 'MODE = "DELETE"\n', id="f-string-module-constant"),
    pytest.param('conn.execute(FALLBACK_SQL)', 'FALLBACK_SQL = f"PRAGMA journal_mode={MODE}"\nMODE = "delete"\n', id="nested-constants"),
    pytest.param('conn.execute(";".join(["PRAGMA journal_mode=DELETE", "VACUUM"]))', "", id="join"),
    pytest.param('conn.executescript("PRAGMA journal_mode=DELETE; VACUUM;")', "", id="executescript"),
    pytest.param('conn.executemany("PRAGMA journal_mode=DELETE", [])', "", id="executemany"),
    pytest.param('conn.cursor().execute("PRAGMA journal_mode=DELETE")', "", id="cursor"),
    pytest.param('conn.exec_driver_sql("PRAGMA journal_mode=DELETE")', "", id="exec-driver-sql"),
    pytest.param('db.execute_sql("PRAGMA journal_mode=DELETE")', "", id="execute-sql"),
    pytest.param('execute_void(conn, "PRAGMA journal_mode=DELETE")', "", id="wrapper"),
    pytest.param('conn.execute(text("PRAGMA journal_mode=DELETE"))', "", id="sqlalchemy-text"),
    pytest.param('conn.execute(sa.text("PRAGMA journal_mode=DELETE"))', "", id="sqlalchemy-sa-text"),
    pytest.param('conn.execute(sql="PRAGMA journal_mode=DELETE")', "", id="keyword-sql"),
    pytest.param('conn.execute("PRAGMA journal_mode(\'delete\')")', "", id="function-form"),
    pytest.param('conn.execute("PRAGMA main.journal_mode = \'DELETE\'")', "", id="schema-quoted"),
    pytest.param('conn.execute("pragma   JOURNAL_MODE  =  Delete")', "", id="case-spacing"),
    pytest.param('conn.execute(("PRAGMA journal_mode=" + MODE).upper())', 'MODE = "delete"\n', id="upper"),
    pytest.param('conn.execute("PRAGMA journal_mode=DELETE" if slow else "PRAGMA journal_mode=TRUNCATE")', "", id="if-expression"),
    pytest.param('db.pragma("journal_mode", "delete")', "", id="peewee-pragma"),
    pytest.param('db.pragma("journal_mode", "delete", permanent=True)', "", id="peewee-pragma-permanent"),
    pytest.param('SqliteDatabase(path, pragmas={"journal_mode": "delete"})', "", id="peewee-pragmas-dict"),
    pytest.param('SqliteDatabase(path, pragmas=[("journal_mode", "truncate")])', "", id="peewee-pragmas-list"),
    pytest.param('SqliteDatabase(path, pragmas=PRAGMAS)', 'PRAGMAS = {"cache_size": -64000, "journal_mode": "delete"}\n', id="peewee-pragmas-name"),
    pytest.param('db.journal_mode = "delete"', "import peewee\n", id="peewee-attribute"),
    pytest.param("db.disable_wal()", "", id="sqlite-utils"),
    pytest.param("await db.execute('PRAGMA journal_mode=DELETE')", "", id="await"),
]


@pytest.mark.parametrize("statement, prelude", SINKS)
def test_sink_in_handler_is_reported(statement, prelude):
    source = _in_handler(statement, prelude).replace("def enable_wal", "async def enable_wal" if "await" in statement else "def enable_wal")
    rows = _codes(source)
    assert [code for _, code in rows] == ["WAL001"], rows
    assert rows[0][0] == source.splitlines().index(" " * 8 + statement) + 1


def test_a_config_field_named_journal_mode_is_no_sink_without_peewee():
    """Only peewee sets the pragma by assigning the attribute; elsewhere it is a value
    (and the handler that stores a rollback mode in it is not swallowing the failure)."""
    assert _codes(_in_handler('settings.journal_mode = "delete"')) == []


def test_function_local_constant():
    source = textwrap.dedent(
        """
        def enable_wal(conn):
            fallback = "PRAGMA journal_mode=DELETE"
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except Exception:
                conn.execute(fallback)
        """
    )
    assert _codes(source) == [(7, "WAL001")]


def test_class_constant_through_self():
    source = textwrap.dedent(
        """
        class Store:
            FALLBACK_MODE = "TRUNCATE"

            def enable_wal(self):
                try:
                    self.conn.execute("PRAGMA journal_mode=WAL")
                except Exception:
                    self.conn.execute(f"PRAGMA journal_mode={self.FALLBACK_MODE}")
        """
    )
    assert _codes(source) == [(9, "WAL001")]


def test_same_module_helper_is_a_sink_at_the_call():
    source = textwrap.dedent(
        """
        def _rollback_journal(conn):
            log.warning("falling back")
            conn.execute("PRAGMA journal_mode=DELETE")

        def _set_mode(conn, mode):
            conn.execute(f"PRAGMA journal_mode={mode}")

        def enable_wal(conn):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except Exception:
                _rollback_journal(conn)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except Exception:
                _set_mode(conn, "delete")
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except Exception:
                _set_mode(conn, mode="wal")
        """
    )
    assert _codes(source) == [(13, "WAL001"), (17, "WAL001")]


def test_guarded_helper_does_not_make_callers_fire():
    source = textwrap.dedent(
        """
        def _fallback(conn):
            if conn.execute("PRAGMA journal_mode").fetchone()[0] in ("wal", None):
                raise RuntimeError("refusing to leave WAL")
            conn.execute("PRAGMA journal_mode=DELETE")

        def enable_wal(conn):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except Exception:
                _fallback(conn)
        """
    )
    assert _codes(source) == []


NEVER_SINKS = [
    pytest.param('conn.execute("PRAGMA journal_mode")', id="read"),
    pytest.param('conn.execute("SELECT journal_mode FROM pragma_journal_mode")', id="table-valued-read"),
    pytest.param('conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")', id="checkpoint-truncate"),
    pytest.param('conn.execute("PRAGMA journal_mode=WAL")', id="wal"),
    pytest.param('conn.execute("PRAGMA journal_mode = \'wal\'")', id="wal-quoted"),
    pytest.param('conn.execute("PRAGMA journal_mode={}".format("wal"))', id="wal-format"),
    pytest.param('conn.execute(f"PRAGMA journal_mode={settings.journal_mode}")', id="config-driven"),
    pytest.param('conn.execute(f"PRAGMA journal_mode={mode}")', id="unknown-local"),
    pytest.param('db.pragma("journal_mode")', id="peewee-read"),
    pytest.param('db.pragma("synchronous", "off")', id="other-pragma"),
    pytest.param('log.error("PRAGMA journal_mode=DELETE failed")', id="log-message"),
    pytest.param("db.enable_wal()", id="sqlite-utils-enable"),
    pytest.param('conn.execute("PRAGMA synchronous=OFF")', id="synchronous-off"),
]


@pytest.mark.parametrize("statement", NEVER_SINKS)
def test_never_a_sink(statement):
    assert _codes(_in_handler(statement)) == []


def test_rollback_outside_a_handler_is_deliberate():
    source = textwrap.dedent(
        """
        def backup(conn, target):
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("VACUUM INTO ?", (target,))
            conn.execute("PRAGMA journal_mode=WAL")
        """
    )
    assert _codes(source) == []
