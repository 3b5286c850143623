"""What one module tells the rest of the project: plain, picklable facts about its functions
and constants, computed per file and joined by the project pass (:mod:`walint.project`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple


# What of its callers' code a function swallows the failure of (FunctionFacts.swallows).
SWALLOWS_WITH_BODY = "with-body"  # `@contextmanager def ignoring(*errors): try: yield / except errors: log`
SWALLOWS_WRAPPED_CALL = "wrapped-call"  # a decorator whose wrapper logs the wrapped function's errors
SWALLOWS_PASSED_SQL = "passed-sql"  # `def safe_execute(conn, sql): try: conn.execute(sql) / except: log`


@dataclass(frozen=True)
class FunctionFacts:
    """How calling one function affects the journal mode, as its callers need to know."""

    qualname: str
    params: Tuple[str, ...] = ()
    is_method: bool = False
    # Parameters with a constant default, and the values it can fold to.
    defaults: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    # Rollback modes the function always sets, unguarded, when called.
    downgrades: Tuple[str, ...] = ()
    # The pragmas it always runs whose text its parameters fill in, with a placeholder for
    # each (`PRAGMA journal_mode=<mode>`, `PRAGMA <name> = <value>`): a caller substitutes
    # its arguments to learn what its call sets.
    sql_templates: Tuple[str, ...] = ()
    # "path:line" of a rollback mode it can reach without an on-disk guard, if any.
    unguarded_downgrade: Optional[str] = None
    # That downgrade is on an error path (its own WAL001 names it): in an `except`
    # handler, on a failure flag, or reached through a call made in one.
    unguarded_on_error_path: bool = False
    # It returns the journal mode it read from the database.
    probe: bool = False
    probe_may_return_none: bool = False
    probe_normalises: bool = True
    # ... and every answer it returns is upper-cased (`.upper()`): "WAL" is its spelling.
    probe_uppercases: bool = False
    # ... and answers a made-up mode (`"unknown"`) when it cannot read one.
    probe_makes_up_a_mode: bool = False
    # It answers whether the database is in WAL (`return mode == "wal"`, a header read):
    # True when a true answer means WAL, False when it means "not WAL".
    wal_answer: Optional[bool] = None
    # ... and answers "not WAL" when it cannot read the mode (a handler's made-up answer).
    guesses_not_wal: bool = False
    # It answers whether the mode it is passed in this parameter is WAL, as ``wal_answer``
    # says (`def is_wal(mode): return mode == "wal"`): a call on a probe's answer is a guard.
    wal_answer_param: Optional[str] = None
    # It raises when the database is in WAL: calling it guards what follows.
    refuses_wal: bool = False
    # It tries WAL and answers some constants when the switch worked and others when it
    # failed (True/False, the mode read back/None, Result.OK/Result.BUSY or
    # Result.UNSUPPORTED), as JSON text of the constants walint.flow.error_paths tracks.
    wal_success_returns: Tuple[str, ...] = ()
    wal_failure_returns: Tuple[str, ...] = ()
    # That answer is the first item of a tuple it returns (`return False, str(exc)`).
    wal_failure_in_tuple: bool = False
    # It sets some journal mode, guarded or not: a handler calling it is not swallowing.
    sets_journal_mode: bool = False
    opens_connection: bool = False
    # Every string it can return, when each of its returns folds to constants
    # (`return "wal"` / `except ...: return "truncate"`): what a caller's name then holds.
    returned_values: Tuple[str, ...] = ()
    # Every path through it raises (or ends the process): a call of it never returns.
    never_returns: bool = False
    # Parameters whose items it tests an argument against (`any(m in text for m in
    # vocabulary)`), with +1 where a match answers True: `matches(exc, NO_WAL)` tests NO_WAL.
    tests_items_of: Tuple[Tuple[str, int], ...] = ()
    # A rollback mode among its returned values: `mode = fallback_mode_for(exc)`, then
    # `PRAGMA journal_mode={mode}` takes the mode from here.
    returns_rollback_mode: bool = False
    # It reads the mode, switches to a rollback mode and returns the mode it read (`def
    # tune_for_bulk(conn)`): a caller that sets that mode again later restores it.
    returns_mode_before_switch: bool = False
    # It returns the header's write and read versions (bytes 18-19 of the file, sliced,
    # read after `seek(18)` or unpacked), which a caller compares with 2.
    returns_header_versions: bool = False
    # It runs `journal_mode=WAL` on a connection its caller passes and lets a failure
    # propagate (no `try`, or handlers that raise): the caller's `except` decides.
    wal_failure_propagates: bool = False
    # What of its caller's code it runs in a `try` that swallows the failure: the body of
    # a `with` (a context manager), the function it decorates, or SQL passed to it
    # (walint.journal.wrappers); "" for none.
    swallows: str = ""
    # A decorator whose wrapper refuses WAL on disk before it runs the function.
    guards_what_it_wraps: bool = False
    # A method its class calls on `self` in the handler of a failed WAL switch
    # (`self._on_wal_unavailable(conn, exc)`): a hook a subclass elsewhere may override.
    called_on_wal_failure: bool = False

    def tells_importers_something(self) -> bool:
        """Does a caller in another module learn anything from these facts? A summary
        keeps only the functions that do."""
        return bool(
            self.downgrades
            or self.sql_templates
            or self.unguarded_downgrade
            or self.probe
            or self.refuses_wal
            or self.wal_answer is not None
            or self.opens_connection
            or self.sets_journal_mode
            or self.swallows
            or self.guards_what_it_wraps
            or self.called_on_wal_failure
            or self.never_returns
            or self.tests_items_of
            or self.returns_rollback_mode
            or self.returns_header_versions
        )


# The key under which the project pass hands a module the uses its importers' marker
# tests make of its names: a tuple of (qualified name in that module, polarity).
IMPORTERS_USES = "<uses by importers>"
# The prefix of the key under which the project pass hands a module the source text of a
# literal it imports (ModuleSummary.literals), by the literal's qualified name.
IMPORTED_LITERAL = "<literal> "
# Literals longer than this are data, not a table of modes or markers: not handed on.
MAX_LITERAL = 4000


@dataclass(frozen=True)
class ModuleSummary:
    """Everything other modules may import from one file."""

    path: str
    functions: Tuple[FunctionFacts, ...] = ()
    # Module-level names bound to strings, with every value they can hold.
    constants: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    # Dotted names this module imports (relative ones keep their leading dots).
    imports: Tuple[str, ...] = ()
    # Imported names (as imported) that its tests on the way to a downgrade use, with the
    # polarity of each use (walint.journal.marker_uses): the defining module's markers.
    marker_uses: Tuple[Tuple[str, int], ...] = ()
    # Imported classifiers its tests compare with a constant on the way to a downgrade:
    # (name as imported, the encoded constant, polarity).
    marker_comparisons: Tuple[Tuple[str, str, int], ...] = ()
    # Module-level names bound to a literal of constants (a table of rows, a dict of
    # modes), with its source text: an importer that loops over it or looks an entry up
    # parses that text (never runs it) as if the literal were written there.
    literals: Tuple[Tuple[str, str], ...] = ()

    def function(self, qualname: str) -> Optional[FunctionFacts]:
        for facts in self.functions:
            if facts.qualname == qualname:
                return facts
        return None

    def literal(self, name: str) -> Optional[str]:
        for literal, source in self.literals:
            if literal == name:
                return source
        return None

    def constant(self, name: str) -> Optional[Tuple[str, ...]]:
        for constant, values in self.constants:
            if constant == name:
                return values
        return None
