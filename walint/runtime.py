"""Safe SQLite journal-mode setup: switch to WAL, retry transient errors, and fall back to
DELETE only when WAL is permanently unavailable and no process has the file in WAL.

Code rewritten by ``walint fix`` calls this module; it imports only the standard library,
so production code can depend on it (or on the copy ``walint helper`` writes) without
pulling in libcst or click.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable, Generator, Iterable, Optional, Tuple

__all__ = [
    "PERMANENT_MARKERS",
    "TRANSIENT_MESSAGES",
    "apply_wal_with_fallback",
    "apply_wal_with_fallback_async",
    "classify_error",
    "journal_mode_on_disk",
]

# Failures that say something about the moment, not about the filesystem: retry
# them, and never treat them as a reason to leave WAL.
TRANSIENT_MESSAGES: Tuple[str, ...] = (
    "disk i/o error",
    "database is locked",
    "database table is locked",
    "database is busy",
)

# Failures that are a lasting property of where the file lives (NFS/SMB without
# shared memory, FUSE mounts that refuse the -shm file): WAL will never work there.
PERMANENT_MARKERS: Tuple[str, ...] = (
    "locking protocol",
    "not authorized",
)

# Primary result codes (the low byte of an extended code).
_TRANSIENT_CODES = frozenset({5, 6, 10})  # SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR
_PERMANENT_CODES = frozenset({15, 23})  # SQLITE_PROTOCOL, SQLITE_AUTH
_TRANSIENT_NAMES = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR")
_PERMANENT_NAMES = ("SQLITE_PROTOCOL", "SQLITE_AUTH")

# Limits on the settings: retries beyond a thousand are a mistake, one wait longer
# than an hour is too (and time.sleep rejects waits of a few hundred years).
_MAX_RETRIES = 1000
_MAX_WAIT = 3600.0
# 2.0**64 times any backoff worth having exceeds any allowed max_backoff.
_MAX_EXPONENT = 64

_HEADER_MAGIC = b"SQLite format 3\x00"
_HEADER_SIZE = 100

_log = logging.getLogger("walint.runtime")

# One warning per database for the life of the process: a service that opens a
# connection per request must not log the same fallback thousands of times.
_warned: set = set()
_warned_lock = threading.Lock()


def classify_error(
    exc: BaseException,
    *,
    permanent_markers: Iterable[str] = PERMANENT_MARKERS,
    transient_markers: Iterable[str] = TRANSIENT_MESSAGES,
) -> str:
    """Classify a failed journal-mode change as ``"transient"``, ``"permanent"`` or ``"other"``.

    The message (case-insensitive substring match against the markers), the result
    code (``sqlite_errorcode`` on Python 3.11+, ``extendedresult``/``result`` on apsw)
    and ``sqlite_errorname`` are all consulted. Transient wins over permanent: an
    error that looks like both must never justify leaving WAL.
    """
    permanent_markers = _as_markers(permanent_markers, "permanent_markers")
    transient_markers = _as_markers(transient_markers, "transient_markers")
    message = str(exc).lower()
    code = _error_code(exc)
    name = getattr(exc, "sqlite_errorname", None)
    name = name.upper() if isinstance(name, str) else ""

    def matches(markers: Iterable[str], codes: frozenset, names: Tuple[str, ...]) -> bool:
        if any(marker in message for marker in markers):
            return True
        if code is not None and code & 0xFF in codes:
            return True
        return any(name == base or name.startswith(base + "_") for base in names)

    if matches(transient_markers, _TRANSIENT_CODES, _TRANSIENT_NAMES):
        return "transient"
    if matches(permanent_markers, _PERMANENT_CODES, _PERMANENT_NAMES):
        return "permanent"
    return "other"


def journal_mode_on_disk(conn_or_path: Any, *, schema: str = "main") -> Optional[str]:
    """Return the journal mode a database file is in, as other processes see it.

    ``conn_or_path`` is a path (``str``, ``bytes`` or ``os.PathLike``) or a
    connection or cursor (sqlite3, apsw, or anything with ``execute()``).
    ``schema`` names which of a connection's databases to look at (``"main"``, or
    the name given to ``ATTACH``); it must be a plain identifier (ASCII letters,
    digits and ``_``, not starting with a digit), else ``ValueError``/``TypeError``.
    A path names its file itself, so ``schema`` is then only validated.

    For a file, the header decides: bytes 18 and 19 both 2 mean ``"wal"``, both 1
    mean ``"delete"`` (the header only distinguishes WAL from a rollback journal, so
    TRUNCATE/PERSIST files also read as ``"delete"``).

    An absent or empty file is a database nobody has created yet, so nobody can
    have it in WAL: it reads as ``"delete"``, meaning "not WAL, safe to choose a
    mode". The exception is a non-empty ``-wal`` file beside it, which only a WAL
    connection writes: that reads as ``"wal"``.

    ``None`` means unknown: the header cannot be read, is shorter than 100 bytes,
    is not an SQLite header, or the probe raised. Callers deciding whether a
    downgrade is safe must treat ``None`` like ``"wal"``.

    For a connection, the file of ``schema`` comes from ``PRAGMA database_list``.
    When there is no file on disk to read (``:memory:``, a temporary database, a
    memory VFS) the connection's own ``PRAGMA <schema>.journal_mode`` answers
    instead, so an in-memory connection reads as ``"memory"``. Results are always
    lowercase.
    """
    quoted = _quoted_schema(schema)
    if isinstance(conn_or_path, (str, bytes, os.PathLike)):
        try:
            return _path_mode(conn_or_path)
        except Exception:
            return None
    try:
        _path, mode = _drive(_on_disk_steps(schema, quoted), conn_or_path, time.sleep)
    except Exception:
        return None
    return mode


def apply_wal_with_fallback(
    conn: Any,
    *,
    label: Optional[str] = None,
    retries: int = 5,
    backoff: float = 0.05,
    max_backoff: float = 1.0,
    logger: Optional[logging.Logger] = None,
    sleep: Callable[[float], Any] = time.sleep,
    permanent_markers: Iterable[str] = PERMANENT_MARKERS,
    transient_markers: Iterable[str] = TRANSIENT_MESSAGES,
    schema: str = "main",
) -> str:
    """Switch database ``schema`` of ``conn`` to WAL; return the mode SQLite reports, lowercased.

    ``schema`` is ``"main"`` or the name an attached database was given by
    ``ATTACH``; it must be a plain identifier (ASCII letters, digits and ``_``, not
    starting with a digit). Every pragma the helper runs is qualified with it, so
    no other database on the connection changes mode: an unqualified
    ``PRAGMA journal_mode=...`` would switch every attached database.

    - Already ``"wal"``: returned without issuing the mutating pragma.
    - Otherwise ``PRAGMA <schema>.journal_mode=WAL`` runs and its answer is returned
      as is, so a silent refusal (``"memory"`` for ``:memory:``) is never reported
      as WAL.
    - A transient error (locked, busy, I/O) is retried ``retries`` times with
      exponential backoff (``backoff`` doubling up to ``max_backoff`` seconds,
      waited with ``sleep``), then re-raised. See "How long it can block" below.
    - A permanent error (``"locking protocol"``, ``"not authorized"``) falls back
      to ``PRAGMA <schema>.journal_mode=DELETE`` only when that schema's file on
      disk is known not to be in WAL (see :func:`journal_mode_on_disk`; a new,
      empty file qualifies).
      If the file is in WAL, or its mode cannot be read, the error is re-raised.
      The fallback is logged once per database (``label``, else the file path) at
      WARNING on ``logger`` (default ``logging.getLogger("walint.runtime")``).
    - Any other error is re-raised.

    ``conn`` is a sqlite3 connection or cursor, an apsw connection, or anything
    whose ``execute(sql)`` returns rows through ``fetchall()``, ``fetchone()`` or
    iteration; rows may be tuples, ``sqlite3.Row`` or mappings.

    How long it can block: before SQLite reports "database is locked", each
    attempt waits in SQLite's busy handler for the connection's busy timeout
    (``timeout`` of ``sqlite3.connect``, 5 s unless given; ``PRAGMA
    busy_timeout``). A lock that is never released therefore holds the caller for

        (retries + 1) * timeout + sum(min(max_backoff, backoff * 2**k) for k in range(retries))

    seconds before the error is raised: with the defaults and sqlite3's
    ``timeout=5``, 6 * 5 + (0.05 + 0.1 + 0.2 + 0.4 + 0.8) = 31.55, about 31.6 s.
    (A lock released and retaken between the read and the switch can cost one
    more timeout in an attempt, and the DELETE fallback can wait one more.) To
    shorten it, connect with a smaller ``timeout`` (``sqlite3.connect(path,
    timeout=1)``), which is most of the wait, and pass fewer ``retries`` or a
    smaller ``max_backoff``; ``retries=0`` waits one timeout and no backoff.

    The settings are checked before ``conn`` is used, and a bad one raises
    ``TypeError`` or ``ValueError`` naming it: ``retries`` is an ``int`` from 0 to
    1000 (not a ``bool``), ``backoff`` a finite number of seconds >= 0,
    ``max_backoff`` one from 0 to 3600; ``label`` is a ``str`` or ``None``, the
    markers strings, ``sleep`` callable.
    """
    steps = _checked_steps(
        label, retries, backoff, max_backoff, logger, sleep, permanent_markers,
        transient_markers, schema,
    )
    return _drive(steps, conn, sleep)


async def apply_wal_with_fallback_async(
    conn: Any,
    *,
    label: Optional[str] = None,
    retries: int = 5,
    backoff: float = 0.05,
    max_backoff: float = 1.0,
    logger: Optional[logging.Logger] = None,
    sleep: Optional[Callable[[float], Any]] = None,
    permanent_markers: Iterable[str] = PERMANENT_MARKERS,
    transient_markers: Iterable[str] = TRANSIENT_MESSAGES,
    schema: str = "main",
) -> str:
    """Async twin of :func:`apply_wal_with_fallback` for aiosqlite-style connections.

    ``await conn.execute(sql)`` must give a cursor whose ``fetchall()`` (or
    ``fetchone()``, or async iteration) may be awaited. Backoff waits with
    ``asyncio.sleep`` unless ``sleep`` is given. The decisions are exactly those of
    the sync version; the 100-byte header read is done inline, being cheaper than
    a hop to a thread. The settings are checked as the coroutine starts, before
    ``conn`` is awaited.
    """
    if sleep is None:
        # Imported here so that sync-only users never pay for importing asyncio.
        import asyncio

        sleep = asyncio.sleep
    # Checked before the first await: nothing touches the connection until then.
    steps = _checked_steps(
        label, retries, backoff, max_backoff, logger, sleep, permanent_markers,
        transient_markers, schema,
    )
    return await _drive_async(steps, conn, sleep)


# --- The decisions, written once -------------------------------------------
#
# The sync and async entry points share one generator per decision. It yields the
# I/O it needs, ("sql", text) or ("sleep", seconds), and a driver performs it and
# sends back the rows, or throws the exception into the generator so that the
# ordinary try/except below sees it as if the generator had run the query itself.

_Step = Tuple[str, Any]
_Steps = Generator[_Step, Any, Any]


def _checked_steps(
    label: Any,
    retries: Any,
    backoff: Any,
    max_backoff: Any,
    logger: Any,
    sleep: Any,
    permanent_markers: Any,
    transient_markers: Any,
    schema: Any,
) -> _Steps:
    """Check every argument (TypeError/ValueError naming it), then plan the steps.

    Runs when the helper is called, before the connection is used: a bad setting
    must never surface later, in place of the SQLite error it was meant to handle.
    """
    if label is not None and not isinstance(label, str):
        raise TypeError("label must be a str or None, not %s" % type(label).__name__)
    if logger is not None and not callable(getattr(logger, "warning", None)):
        raise TypeError("logger must be a logging.Logger or None, not %s" % type(logger).__name__)
    if not callable(sleep):
        raise TypeError("sleep must be callable, not %s" % type(sleep).__name__)
    return _wal_steps(
        label,
        _checked_retries(retries),
        _checked_seconds("backoff", backoff, None),
        _checked_seconds("max_backoff", max_backoff, _MAX_WAIT),
        logger,
        # Read once: a generator or other one-shot iterable must survive every attempt.
        _as_markers(permanent_markers, "permanent_markers"),
        _as_markers(transient_markers, "transient_markers"),
        schema,
        _quoted_schema(schema),
    )


def _checked_retries(value: Any) -> int:
    # bool is an int to Python, but retries=True is a mistake, not "one retry".
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("retries must be an int, not %s" % type(value).__name__)
    if not 0 <= value <= _MAX_RETRIES:
        raise ValueError("retries must be from 0 to %d, not %d" % (_MAX_RETRIES, value))
    return int(value)


def _checked_seconds(name: str, value: Any, limit: Optional[float]) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a number of seconds, not %s" % (name, type(value).__name__))
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        seconds = math.inf
    if not (math.isfinite(seconds) and seconds >= 0 and (limit is None or seconds <= limit)):
        bound = "at most %g" % limit if limit is not None else "finite"
        raise ValueError(
            "%s must be a non-negative number of seconds, %s; not %r" % (name, bound, value)
        )
    return seconds


def _delay(backoff: float, max_backoff: float, attempt: int) -> float:
    """Wait before retry ``attempt + 1``: ``backoff * 2**attempt``, at most ``max_backoff``.

    The exponent is capped so the product stays a float (at worst inf, which ``min``
    discards) and never raises OverflowError, however many retries are allowed.
    """
    return min(max_backoff, backoff * 2.0 ** min(attempt, _MAX_EXPONENT))


def _wal_steps(
    label: Optional[str],
    retries: int,
    backoff: float,
    max_backoff: float,
    logger: Optional[logging.Logger],
    permanent_markers: Tuple[str, ...],
    transient_markers: Tuple[str, ...],
    schema: str,
    quoted: str,
) -> _Steps:
    read_sql = "PRAGMA %s.journal_mode" % quoted
    wal_sql = "PRAGMA %s.journal_mode=WAL" % quoted
    delete_sql = "PRAGMA %s.journal_mode=DELETE" % quoted
    attempt = 0
    while True:
        try:
            mode = _mode_of((yield ("sql", read_sql)))
            if mode != "wal":
                mode = _mode_of((yield ("sql", wal_sql)))
        except Exception as exc:
            kind = classify_error(
                exc, permanent_markers=permanent_markers, transient_markers=transient_markers
            )
            if kind == "other" or (kind == "transient" and attempt >= retries):
                raise
            failure = exc
        else:
            return _reported(mode, wal_sql)
        if kind == "permanent":
            break
        yield ("sleep", _delay(backoff, max_backoff, attempt))
        attempt += 1

    path, on_disk = yield from _on_disk_steps(schema, quoted)
    # Unknown counts as WAL: a downgrade is only safe when we know nobody is in WAL.
    if on_disk in ("wal", None):
        raise failure
    _warn_once(logger or _log, label if label is not None else path, failure)
    return _reported(_mode_of((yield ("sql", delete_sql))), delete_sql)


def _on_disk_steps(schema: str, quoted: str) -> _Steps:
    """Return ``(file path of schema or None, mode or None)`` for the connection."""
    try:
        path = _schema_file((yield ("sql", "PRAGMA %s.database_list" % quoted)), schema)
    except Exception:
        return None, None
    if path:
        mode = _file_mode(path)
        if mode is not _ABSENT:
            return path, mode
    # No file to read: memory or temp database, a memory VFS, or a connection
    # that cannot name its file. Its own answer is then the only one there is.
    try:
        return path, _mode_of((yield ("sql", "PRAGMA %s.journal_mode" % quoted)))
    except Exception:
        return path, None


def _drive(steps: _Steps, conn: Any, sleep: Callable[[float], Any]) -> Any:
    reply: Any = None
    error: Optional[BaseException] = None
    while True:
        try:
            step = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        try:
            kind, arg = step
            if kind == "sleep":
                sleep(arg)
            else:
                reply = _rows_of(conn.execute(arg))
        except Exception as exc:
            error = exc


async def _drive_async(steps: _Steps, conn: Any, sleep: Callable[[float], Any]) -> Any:
    reply: Any = None
    error: Optional[BaseException] = None
    while True:
        try:
            step = steps.send(reply) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        try:
            kind, arg = step
            if kind == "sleep":
                await _maybe_await(sleep(arg))
            else:
                reply = await _rows_of_async(await _maybe_await(conn.execute(arg)))
        except Exception as exc:
            error = exc


# --- Reading rows ------------------------------------------------------------
#
# Every result is drained completely: an apsw statement left mid-iteration keeps
# its read transaction, and with it the locks, open.


def _rows_of(result: Any) -> list:
    if result is None:
        return []
    if callable(getattr(result, "fetchall", None)):
        return list(result.fetchall())
    if callable(getattr(result, "fetchone", None)):
        return list(iter(result.fetchone, None))
    return list(result)


async def _rows_of_async(result: Any) -> list:
    if result is None:
        return []
    if callable(getattr(result, "fetchall", None)):
        return list(await _maybe_await(result.fetchall()))
    if callable(getattr(result, "fetchone", None)):
        rows = []
        row = await _maybe_await(result.fetchone())
        while row is not None:
            rows.append(row)
            row = await _maybe_await(result.fetchone())
        return rows
    if hasattr(result, "__aiter__"):
        return [row async for row in result]
    return list(result)


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value


def _field(row: Any, index: int, key: str) -> Any:
    if isinstance(row, Mapping):
        return row[key]
    return row[index]


def _mode_of(rows: list) -> Optional[str]:
    if not rows:
        return None
    row = rows[0]
    if isinstance(row, Mapping):
        value = next(iter(row.values()), None)
    elif isinstance(row, (str, bytes)):
        value = row
    else:
        value = row[0]
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).lower()


def _reported(mode: Optional[str], sql: str) -> str:
    if mode is None:
        # The caller asked for the mode SQLite reports; inventing one would be a lie.
        raise RuntimeError("%s returned no row; cannot tell the journal mode" % sql)
    return mode


def _schema_file(rows: list, schema: str) -> Optional[str]:
    # SQLite matches schema names case-insensitively (ASCII only, as validated).
    for row in rows:
        name = _field(row, 1, "name")
        if isinstance(name, str) and name.lower() == schema.lower():
            return _field(row, 2, "file") or None
    return None


def _quoted_schema(schema: Any) -> str:
    """``schema`` as a quoted SQL identifier, after checking it is a plain one."""
    if not isinstance(schema, str):
        raise TypeError("schema must be a str, not %s" % type(schema).__name__)
    if not (schema.isascii() and schema.isidentifier()):
        raise ValueError(
            "schema must be a database name made of ASCII letters, digits and _ "
            "(not starting with a digit), not %r" % (schema,)
        )
    return '"%s"' % schema.replace('"', '""')


# --- Reading the file --------------------------------------------------------

_ABSENT = object()  # no file on disk; what that means depends on the caller


def _read_header(path: Any) -> bytes:
    """Return up to the first 100 bytes of ``path``; OSError propagates."""
    with open(path, "rb") as handle:
        return handle.read(_HEADER_SIZE)


def _file_mode(path: Any) -> Any:
    """``"wal"``, ``"delete"``, ``None`` (unknown) or ``_ABSENT``."""
    try:
        header = _read_header(path)
    except FileNotFoundError:
        header = None
    except OSError:
        return None
    if header:
        if len(header) < _HEADER_SIZE or not header.startswith(_HEADER_MAGIC):
            return None
        versions = (header[18], header[19])
        if versions == (2, 2):
            return "wal"
        if versions == (1, 1):
            return "delete"
        return None
    # Absent or empty: no database yet, unless a WAL connection has already
    # written frames that were not checkpointed into the main file.
    path = os.fspath(path)
    try:
        if os.path.getsize(path + (b"-wal" if isinstance(path, bytes) else "-wal")) > 0:
            return "wal"
    except FileNotFoundError:
        pass
    except OSError:
        return None
    return _ABSENT if header is None else "delete"


def _path_mode(path: Any) -> Optional[str]:
    path = os.fspath(path)
    text = os.fsdecode(path)
    if text == ":memory:":
        return "memory"
    if text.startswith("file:") and not os.path.exists(path):
        path = _uri_file(text)
        if path is None:
            return "memory"
    if path in ("", b""):
        # sqlite3.connect("") opens a private temporary database: nobody shares it.
        return "delete"
    mode = _file_mode(path)
    return "delete" if mode is _ABSENT else mode


def _uri_file(uri: str) -> Optional[str]:
    """The file an SQLite ``file:`` URI names, or None for an in-memory database."""
    from urllib.parse import parse_qs, unquote

    rest = uri[len("file:"):].split("#", 1)[0]
    path, _, query = rest.partition("?")
    params = parse_qs(query)
    if (
        path == ":memory:"
        or params.get("mode") == ["memory"]
        or params.get("vfs") == ["memdb"]
    ):
        return None
    if path.startswith("//"):
        # file://host/path: SQLite accepts only an empty host or "localhost".
        path = "/" + path[2:].partition("/")[2]
    return unquote(path)


def _warn_once(logger: logging.Logger, key: Any, error: BaseException) -> None:
    key = key if key is not None else "<unnamed database>"
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(
        "%s: WAL is not available here (%s) and the file is not in WAL on disk; "
        "using journal_mode=DELETE",
        key,
        error,
    )


def _as_markers(markers: Iterable[str], name: str = "markers") -> Tuple[str, ...]:
    # A lone string would otherwise be read as its characters, and "l" matches a lot.
    if isinstance(markers, str):
        markers = (markers,)
    try:
        markers = tuple(markers)
    except TypeError:
        raise TypeError(
            "%s must be a str or an iterable of str, not %s" % (name, type(markers).__name__)
        ) from None
    for marker in markers:
        if not isinstance(marker, str):
            raise TypeError("%s must hold only str, not %s" % (name, type(marker).__name__))
    return tuple(marker.lower() for marker in markers)


def _error_code(exc: BaseException) -> Optional[int]:
    for attr in ("sqlite_errorcode", "extendedresult", "result"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None
