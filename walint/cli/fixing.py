"""The ``fix`` flow (``walint fix`` and ``walint check --fix``): hand the inputs to
:mod:`walint.fixer`, then show what it did (diff, summaries, the report of what remains)
and exit with the code that says so."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, NoReturn, Optional, Sequence

import click

from walint.cli.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, print_errors
from walint.cli.inputs import Inputs, find_project, resolve_inputs, roots_and_cache
from walint.cli.options import FileSelection, RunOptions, use_colour
from walint.cli.output import emit, render, report_context, rule_infos
from walint.console import printable
from walint.findings import Finding

if TYPE_CHECKING:
    from walint.fixer import FixRun


@dataclass(frozen=True)
class FixRequest:
    """How to fix and what to show afterwards: `walint fix` and `walint check --fix`."""

    diff: bool = False
    unsafe_fixes: bool = False
    helper: Optional[str] = None
    output_format: str = "full"
    output_file: Optional[str] = None
    quiet: bool = False
    statistics: bool = False
    exit_zero: bool = False
    exit_non_zero_on_fix: bool = False
    show_fixes: bool = False


def run_fix(paths: Sequence[str], selection: FileSelection, request: FixRequest, options: RunOptions) -> NoReturn:
    """Fix, show what was fixed and what remains, and exit (``walint fix``, ``check --fix``)."""
    from walint import fixer

    inputs = resolve_inputs(paths, selection, helper=request.helper)
    jobs, cache = options.resolve(inputs)
    stdin = inputs.stdin
    roots, cache = roots_and_cache(paths, inputs, cache)
    project = find_project(paths, inputs)
    # Standard input is never written back: its fixed source goes to stdout.
    write = not request.diff and stdin is None
    run = fixer.fix(
        inputs.files,
        inputs.settings,
        roots,
        request.unsafe_fixes,
        write=write,
        jobs=jobs,
        cache=cache,
        read=inputs.read,
        project=project,
    )
    if request.diff:
        colour = use_colour(sys.stdout.isatty())
        for display, (before, after) in sorted(run.changes.items()):
            click.echo(coloured_diff(unified_diff(display, before, after), colour), nl=False, color=colour)
    fixed_stdin = None
    if stdin is not None:
        # What cannot be fixed (an excluded name, a refused fix) comes back unchanged.
        fixed_stdin = run.changes.get(stdin.display, (stdin.data, stdin.data))[1]
        if not request.diff:
            sys.stdout.buffer.write(fixed_stdin)
            sys.stdout.flush()
    _finish_fix(run, inputs, request, err=stdin is not None, fixed_stdin=fixed_stdin)


def _finish_fix(
    run: FixRun,
    inputs: Inputs,
    request: FixRequest,
    err: bool,
    fixed_stdin: Optional[bytes] = None,
) -> NoReturn:
    print_errors(run.errors)
    if not run.converged:
        click.echo(
            "walint: error: the fixes did not settle after several rounds; "
            "this is a bug in walint, please report it with the file",
            err=True,
        )
    if request.diff:
        if not request.quiet:
            click.echo(diff_summary(run.fixed, run.remaining, request.unsafe_fixes), err=True)
        sys.exit(EXIT_ERROR if run.errors else (EXIT_FINDINGS if run.changes else EXIT_CLEAN))
    machine = request.output_format not in ("full", "concise") or request.statistics
    if run.remaining or machine:
        context = report_context(
            inputs, request.output_file, quiet=True, stdin_data=fixed_stdin, err=err, errors=run.errors
        )
        text = render(run.remaining, request.output_format, request.statistics, context)
        emit(text, request.output_file, context.colour, err)
    if request.show_fixes and run.fixed_in:
        click.echo(show_fixes(run.fixed_in), err=True)
    if not request.quiet:
        click.echo(fix_summary(run.fixed, run.remaining, len(run.errors)), err=err or machine)
    if run.errors or not run.converged:
        sys.exit(EXIT_ERROR)
    if request.exit_non_zero_on_fix and run.fixed:
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_FINDINGS if run.remaining and not request.exit_zero else EXIT_CLEAN)


def show_fixes(fixed_in: Dict[str, List[Finding]]) -> str:
    """ruff's ``--show-fixes`` listing: each file, then how many of each rule were fixed."""
    from collections import Counter

    from walint.report.context import plural

    total = sum(len(findings) for findings in fixed_in.values())
    lines = [f"Fixed {plural(total, 'error')}:"]
    names = {code: info.name for code, info in rule_infos().items()}
    for display in sorted(fixed_in):
        lines.append(f"- {printable(display)}:")
        for code, count in sorted(Counter(f.code for f in fixed_in[display]).items()):
            lines.append(f"    {count} \u00d7 {code} ({names.get(code, code)})")
    return "\n".join(lines) + "\n"


def fix_summary(fixed: int, remaining: Sequence[Finding], unchecked: int = 0, unsafe_fixes: bool = False) -> str:
    """What `fix` did, in ruff's words; never "All checks passed!" when a file went unchecked."""
    from walint.report.concise import fix_hint
    from walint.report.context import plural

    total = fixed + len(remaining)
    if not total and not unchecked:
        return "All checks passed!"
    lines = [f"Found {plural(total, 'error')} ({fixed} fixed, {len(remaining)} remaining)."] if total else []
    hidden = sum(1 for f in remaining if f.fix is not None and not f.fix.is_safe and not unsafe_fixes)
    if hidden:
        lines.append(fix_hint(0, hidden))
    if unchecked:
        lines.append(f"{plural(unchecked, 'file')} could not be checked (see the errors above).")
    return "\n".join(lines)


def diff_summary(fixed: int, remaining: Sequence[Finding], unsafe_fixes: bool = False) -> str:
    """What `fix --diff` would do, in ruff's words: "Would fix 2 errors." or "No errors would
    be fixed.", with the unsafe fixes left out counted as ruff counts them."""
    from walint.report.context import plural

    hidden = 0 if unsafe_fixes else sum(1 for f in remaining if f.fix is not None and not f.fix.is_safe)
    fixes = plural(hidden, "fix", "fixes")
    if fixed:
        more = f" ({hidden} additional {fixes.split(' ', 1)[1]} available with `--unsafe-fixes`)" if hidden else ""
        return f"Would fix {plural(fixed, 'error')}{more}."
    more = f" ({fixes} available with `--unsafe-fixes`)" if hidden else ""
    return f"No errors would be fixed{more}."


def unified_diff(display: str, before: bytes, after: bytes) -> str:
    """A unified diff of one file's fix, decoded the way Python reads the file."""
    import difflib

    from walint.text import source_encoding, split_lines

    encoding = source_encoding(before)
    old = split_lines(before.decode(encoding, errors="replace"))
    new = split_lines(after.decode(encoding, errors="replace"))
    lines = difflib.unified_diff(old, new, fromfile=printable(display), tofile=printable(display))
    text = "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)
    if sys.stdout.isatty():  # a patch tool gets the exact bytes; a terminal gets no escapes
        text = "".join(printable(line, tabs=True) + "\n" for line in text.splitlines())
    return text


def coloured_diff(text: str, colour: bool) -> str:
    """A unified diff with ruff's colours: removed lines red, added green, hunks cyan."""
    if not colour:
        return text
    styles = (("+++", "1"), ("---", "1"), ("@@", "36"), ("+", "32"), ("-", "31"))
    lines = []
    for line in text.splitlines():
        style = next((code for prefix, code in styles if line.startswith(prefix)), None)
        lines.append(f"\x1b[{style}m{line}\x1b[0m" if style else line)
    return "".join(line + "\n" for line in lines)
