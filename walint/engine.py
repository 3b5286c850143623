"""Check one file: parse, build the model, run the rules, apply suppressions.

``check_source`` is a pure function of a file's bytes and the settings, so its results
can be cached by content hash and computed in other processes.
"""

from __future__ import annotations

import gc
import sys
import threading
import traceback
from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Type

from walint.codes import PARSE_ERROR
from walint.findings import FileResult, Finding, Fix, Location
from walint.text import LINE_BREAK_RE, quiet_about_the_source
from walint.rules import ALL_RULES, ModelRule, Report
from walint.rules.parse_error import parse_error_finding, too_deeply_nested_finding
from walint.rules.unused_suppression import UnusedSuppression
from walint.settings import RENDER_ALL, RENDER_NONE, Settings
from walint.suppressions import LineComments, Suppression
from walint.summary import IMPORTERS_USES, ModuleSummary

# Larger files are reported, not parsed: LibCST needs about 6 s and 500 MB a megabyte of
# dense source, growing faster than the size (dense generated rows, whole analysis:
# 1 MB 5.3 s and 520 MB, 2 MB 12.4 s and 1.0 GB, 4 MB 23 s and 2.0 GB; a 6.8 MB file
# took 92 s and 7 GB), so 8 MB would be minutes. The largest hand-written and generated
# modules in the standard library and common packages are under 4 MB.
MAX_SOURCE_BYTES = 4 * 1024 * 1024

# Python ends a line at \n, \r\n or \r only; str.splitlines() also breaks at form feeds
# and other separators, which would put a suppression comment on the wrong line.


def _reported(code: str, path: str, settings: Settings) -> bool:
    """Is ``code`` on, and not turned off for this file by ``per-file-ignores``?"""
    return settings.enabled(code) and not settings.ignored_in_file(code, path)


def active_model_rules(settings: Settings) -> List[Type[ModelRule]]:
    """The rules ``settings`` turns on that check a module's model (not WAL000, which the
    engine reports when a parse fails)."""
    return [
        rule
        for rule in ALL_RULES
        if issubclass(rule, ModelRule) and settings.enabled(rule.code, rule.default_enabled)
    ]


def _python_syntax_error(data: bytes) -> Optional[Exception]:
    """Why Python's own parser rejects ``data``, or None when it accepts it."""
    import ast

    try:
        compile(data, "<walint>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return error
    except (RecursionError, MemoryError):
        return None
    return None


def check_source(
    path: str, data: bytes, settings: Settings, external: Optional[Mapping[str, object]] = None
) -> FileResult:
    """Check one file's bytes. Never raises for a problem in the file itself.

    ``external`` maps dotted names this file imports (as written, relative ones with
    their dots) to what the project pass knows of them: FunctionFacts, or the values of
    a string constant.

    First :mod:`walint.screen` compiles the file with Python's parser and measures its
    nesting: a file beyond what LibCST parses in bounded time and memory is an error
    ("not analysed: ..."), never minutes; one near where LibCST's native parser can crash
    is analysed in a child process, so that a crash is this file's error and the run
    goes on. A file Python accepts but LibCST cannot parse is an error too, not WAL000.

    A file nested deeper than the interpreter's stack allows (a long implicit string
    concatenation is a chain of nested nodes) is analysed again in a thread with a large
    stack; one too deep even for that is a WAL000 finding saying it was skipped.
    """
    if len(data) > MAX_SOURCE_BYTES:
        size, limit = len(data) / 2**20, MAX_SOURCE_BYTES // 2**20
        return FileResult(path, errors=(f"too large to check: {size:.1f} MB, over the {limit} MB limit (exclude it to skip it)",))
    with quiet_about_the_source():
        return _screened(path, data, settings, external)


def _screened(path: str, data: bytes, settings: Settings, external: Optional[Mapping[str, object]]) -> FileResult:
    """:func:`check_source` from the screen on."""
    from walint import screen, supervisor

    with _no_cyclic_collection():
        verdict = screen.screen(data)
    if verdict.refusal is not None:
        return FileResult(path, errors=(f"not analysed: {verdict.refusal}",))
    if verdict.syntax_error is not None and verdict.syntax_error_is_final:
        # A syntax error LibCST could crash on (brackets nested past Python's limit).
        if not _reported(PARSE_ERROR, path, settings):
            return FileResult(path)
        return FileResult(path, (parse_error_finding(path, data, verdict.syntax_error),))
    accepted = verdict.python_accepts
    if verdict.isolate and not supervisor.isolated():
        try:
            return supervisor.run_isolated(_analyse, path, data, settings, external, accepted, True)
        except supervisor.Crashed as crash:
            return FileResult(path, errors=(f"the parser crashed on this file ({crash})",))
    return _analyse(path, data, settings, external, accepted)


def _analyse(
    path: str,
    data: bytes,
    settings: Settings,
    external: Optional[Mapping[str, object]],
    accepted: bool,
    deep_first: bool = False,
) -> FileResult:
    """:func:`check_source` once the screen has passed the file: in-process, or in the
    child process the supervisor started (``deep_first``: straight onto a large stack)."""
    with _no_cyclic_collection():
        if not deep_first:
            try:
                return _check_source(path, data, settings, external, accepted)
            except RecursionError:
                pass
        try:
            return _on_deep_stack(_check_source, path, data, settings, external, accepted)
        except RecursionError:
            if not _reported(PARSE_ERROR, path, settings):
                return FileResult(path)
            return FileResult(path, (too_deeply_nested_finding(path),))


@contextmanager
def _no_cyclic_collection() -> Iterator[None]:
    """The cyclic garbage collector would walk a whole syntax tree (Python's in the screen,
    LibCST's in the analysis) again and again while it is built and analysed (a third of
    the run on large files); the little cyclic garbage a file leaves is collected after."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


# A thread stack is only address space until it is used; 512 MiB holds a recursion limit
# of 200,000 Python frames with room to spare.
_DEEP_STACK_BYTES = 512 * 1024 * 1024
_DEEP_RECURSION_LIMIT = 200_000
_deep_lock = threading.Lock()


def _on_deep_stack(function: Callable[..., FileResult], *args: object) -> FileResult:
    """``function(*args)`` in a thread with a large stack and a high recursion limit."""
    outcome: Dict[str, object] = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    # The recursion limit is per interpreter: the lock keeps two deep runs from
    # restoring each other's limit, and the caller only waits meanwhile.
    with _deep_lock:
        limit = sys.getrecursionlimit()
        previous_size = threading.stack_size(_DEEP_STACK_BYTES)
        try:
            thread = threading.Thread(target=target, name="walint-deep-file", daemon=True)
            sys.setrecursionlimit(max(limit, _DEEP_RECURSION_LIMIT))
            thread.start()
        finally:
            threading.stack_size(previous_size)
        try:
            thread.join()
        finally:
            sys.setrecursionlimit(limit)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _check_source(
    path: str,
    data: bytes,
    settings: Settings,
    external: Optional[Mapping[str, object]] = None,
    python_accepts: bool = False,
) -> FileResult:
    """:func:`check_source`, raising RecursionError for a file nested too deeply.

    ``python_accepts``: Python's parser accepted the file, so LibCST rejecting it is
    LibCST's limit, not the file's syntax error.
    """
    import libcst as cst

    rules = active_model_rules(settings)
    try:
        module = cst.parse_module(data)
    except (cst.ParserSyntaxError, UnicodeError, SyntaxError, LookupError) as error:
        if python_accepts and isinstance(error, cst.ParserSyntaxError):
            # (A UnicodeError stays WAL000: Python lets invalid UTF-8 pass in a comment.)
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            return FileResult(path, errors=(f"not analysed: LibCST cannot parse this file, which Python accepts ({reason})",))
        # LookupError: a coding cookie naming a bytes-to-bytes codec (hex, rot13).
        if not _reported(PARSE_ERROR, path, settings):
            return FileResult(path)
        finding = parse_error_finding(path, data, error)
        return FileResult(path, (finding,))

    from walint.journal.model import ModuleModel

    reports: List[Tuple[str, Report]] = []
    errors: List[str] = []
    known = external or {}
    model = ModuleModel(
        module,
        settings.guards,
        known.get,
        path,
        (settings.transient_markers, settings.permanent_markers),
        # What the project pass knows of, and the names importers test: they make a
        # function naming them one that matters (walint.journal.relevance).
        (*known, known.get(IMPORTERS_USES, ())),
    )
    for rule_class in rules:
        with _noting_internal_errors(rule_class.code, errors):
            reports.extend((rule_class.code, report) for report in rule_class(settings).check(model))
    # WAL100 runs once the findings it compares the suppression comments with are known.
    unused_suppressions: Optional[UnusedSuppression] = None
    if settings.enabled(UnusedSuppression.code, UnusedSuppression.default_enabled):
        with _noting_internal_errors(UnusedSuppression.code, errors):
            unused_suppressions = UnusedSuppression(settings, module)
    try:
        summary: Optional[ModuleSummary] = model.summary()
    except RecursionError:
        raise
    except Exception as error:
        summary = None
        errors.append(f"internal error while summarising: {type(error).__name__}: {error}")
    # The tree is freed when the last of it goes, not when the cyclic collector walks it.
    model.release()
    if errors:
        rejected = None if python_accepts else _python_syntax_error(data)
        if rejected is not None:
            # LibCST accepted a literal that Python rejects (a NUL byte in a string, an
            # unknown \N{...} escape) and a rule choked on its value: the file is not
            # Python, which is a parse error, not an internal one.
            if not _reported(PARSE_ERROR, path, settings):
                return FileResult(path)
            return FileResult(path, (parse_error_finding(path, data, rejected),))
    if not reports and (unused_suppressions is None or not unused_suppressions.comments):
        return FileResult(path, errors=tuple(errors), summary=summary)
    findings = _findings(path, module, reports, settings, unused_suppressions)
    return FileResult(path, findings, tuple(errors), summary)


@contextmanager
def _noting_internal_errors(code: str, errors: List[str]) -> Iterator[None]:
    """A bug in one rule must not stop the run: it becomes a line in ``errors``."""
    try:
        yield
    except RecursionError:
        raise  # the file is too deep, not the rule wrong: check_source retries it
    except Exception as error:
        last = traceback.extract_tb(error.__traceback__)[-1]
        errors.append(
            f"internal error in {code}: {type(error).__name__}: {error} "
            f"({last.filename.rsplit('/', 1)[-1]}:{last.lineno})"
        )


def _findings(
    path: str,
    module: "object",
    reports: Sequence[Tuple[str, Report]],
    settings: Settings,
    unused_suppressions: Optional[UnusedSuppression],
) -> Tuple[Finding, ...]:
    """Positions are computed only here, for files that have something to report; fixes
    stay plans unless ``settings.render_fixes`` asks for their edits."""
    import libcst as cst

    from walint.tree import positions_of

    assert isinstance(module, cst.Module)
    positions = positions_of(module)  # PositionProvider's answers, for the nodes asked about
    code = module.code
    lines = LINE_BREAK_RE.split(code)
    line_comments = LineComments(code)  # a noqa marker inside a string is no comment
    findings: Dict[Tuple[str, int, int], Finding] = {}
    plans: Dict[Tuple[str, int, int], object] = {}

    def line_at(row: int) -> str:
        return lines[row - 1] if row - 1 < len(lines) else ""

    def place(report: Report) -> Tuple[Location, Location, str]:
        """Where ``report`` starts and ends, and the text of its first line."""
        span = positions[report.node]
        start = Location(span.start.line, span.start.column + 1)
        return start, Location(span.end.line, span.end.column + 1), line_at(start.row)

    def record(code: str, report: Report, start: Location, end: Location, line: str) -> None:
        # per-file-ignores, here with the comments: an ignored finding is never rendered
        # (a comment that suppressed it first still counts as used).
        key = (code, start.row, start.column)
        if settings.ignored_in_file(code, path) or key in findings:
            return
        findings[key] = Finding(
            path,
            code,
            report.message,
            start,
            end,
            fix=_planned(report),
            no_fix_reason=report.no_fix_reason if report.fix is None else None,
            fingerprint=" ".join(line.split()),
        )
        if report.fix is not None:
            plans[key] = report.fix

    # The codes each line's suppression comment suppressed.
    used: Dict[int, Set[str]] = {}
    for code, report in reports:
        start, end, line = place(report)
        if line_comments.suppresses(start.row, line, code):
            used.setdefault(start.row, set()).add(code)
            continue
        record(code, report, start, end, line)
    if unused_suppressions is not None:

        def row_of(node: cst.CSTNode) -> int:
            return positions[node].start.line

        def suppression_on(row: int) -> Optional[Suppression]:
            return line_comments.suppression(row, line_at(row))

        for report in unused_suppressions.check(row_of, suppression_on, used):
            record(unused_suppressions.code, report, *place(report))
    if settings.render_fixes != RENDER_NONE and plans:
        _render(module, findings, plans, settings.render_fixes)
    return tuple(sorted(findings.values(), key=lambda f: f.sort_key))


def _planned(report: Report) -> Optional[Fix]:
    """The fix a report plans, before anything is rendered: its title and applicability."""
    if report.fix is None:
        return None
    return Fix(report.fix.title, report.fix.applicability)


def _render(
    module: "object", findings: Dict[Tuple[str, int, int], Finding], plans: Mapping[Tuple[str, int, int], "object"], mode: str
) -> None:
    """Turn the plans the run asked for into edits, all of the file's in one transform.

    A plan that does not render becomes no fix, with the reason.
    """
    from walint.render import render_plans

    wanted = [key for key, plan in plans.items() if mode == RENDER_ALL or plan.applicability == "safe"]  # type: ignore[attr-defined]
    if not wanted:
        return
    wanted.sort(key=lambda key: findings[key].sort_key)  # earlier plans win overlaps, as in `fix`
    rendered = render_plans(module, [plans[key] for key in wanted])  # type: ignore[arg-type, misc]
    for key, result in zip(wanted, rendered):
        finding = findings[key]
        if result.edits:
            fix = Fix(finding.fix.message, finding.fix.applicability, result.edits)  # type: ignore[union-attr]
            findings[key] = replace(finding, fix=fix)
        else:
            findings[key] = replace(finding, fix=None, no_fix_reason=result.reason)
