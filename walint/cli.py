"""The ``walint`` command line: ``check``, ``fix``, ``helper``, ``rules`` and ``explain``.

``check`` goes: configuration and flags -> :class:`Settings` -> the files (discovery, or
standard input served as one more file) -> the engine (``walint.runner``; suppressions
and ``per-file-ignores`` apply there) -> baseline -> report -> exit code (0 clean,
1 findings, 2 usage, configuration or internal error). ``fix`` hands the same inputs to
``walint.fixer`` and shows what it returns.

The options that choose the configuration, the files and the rules are declared once
(:func:`file_selection_options`) and resolved once (:func:`resolve_inputs`), so every
command that takes paths, ``check`` and ``fix``, reads them the same way, stdin included.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

import click

from walint import __version__
from walint.baseline import Baseline, BaselineError
from walint.console import printable
from walint.config import ConfigError, Options, find_config, load_config, parse_codes, parse_helper, resolve_settings
from walint.discovery import Candidate, PathNotFound, discover, is_excluded, read_bytes
from walint.findings import Finding
from walint.report import CARRIES_EDITS, FORMATS, ReportContext, RuleInfo, SourceLines
from walint.report import statistics as statistics_report
from walint.cache import Cache
from walint.catalogue import UNUSED_SUPPRESSION
from walint.runner import Reader, RunResult, check_files, default_jobs, serving
from walint.settings import RENDER_ALL, Settings
from walint.writing import UnsafeWrite, write_output

if TYPE_CHECKING:
    from walint.fixer import FixRun

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
STDIN_PATH = "-"


def _print_errors(errors: Sequence[Tuple[str, str]]) -> None:
    for path, problem in errors:
        click.echo(f"walint: error: {printable(path)}: {printable(problem)}", err=True)


def fail(message: str) -> NoReturn:
    """Print ``walint: error: message`` and exit 2."""
    click.echo(f"walint: error: {printable(message)}", err=True)
    sys.exit(EXIT_ERROR)


# ----- choosing the configuration, the files and the rules ----------------------------


@dataclass(frozen=True)
class FileSelection:
    """The command-line options every command that takes paths shares."""

    config_file: Optional[str]
    isolated: bool
    select: Tuple[str, ...]
    extend_select: Tuple[str, ...]
    ignore: Tuple[str, ...]
    exclude: Tuple[str, ...]
    extend_exclude: Tuple[str, ...]
    respect_gitignore: Optional[bool]
    force_exclude: Optional[bool]
    stdin_filename: Optional[str]


_FILE_SELECTION_OPTIONS = (
    click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="Read [tool.walint] from this file instead of the nearest pyproject.toml.",
    ),
    click.option("--isolated", is_flag=True, help="Ignore every configuration file."),
    click.option("--select", multiple=True, help="Only these rule codes (or prefixes), comma-separated."),
    click.option("--extend-select", multiple=True, help="Rule codes to add to the selection."),
    click.option("--ignore", multiple=True, help="Skip these rule codes (or prefixes), comma-separated."),
    click.option("--exclude", multiple=True, help="Files or directories to skip (glob); replaces `exclude`."),
    click.option("--extend-exclude", multiple=True, help="Files or directories to skip, in addition."),
    click.option("--respect-gitignore/--no-respect-gitignore", default=None, help="Skip files .gitignore lists [default: on]."),
    click.option(
        "--force-exclude/--no-force-exclude",
        default=None,
        help="Apply the excludes to files named on the command line too (for pre-commit).",
    ),
    click.option(
        "--stdin-filename",
        metavar="PATH",
        help="With PATH `-`: the name of the file standard input stands for.",
    ),
)


_RUN_OPTIONS = (
    click.option(
        "-j",
        "--jobs",
        type=click.IntRange(min=1),
        default=None,
        help="Processes to analyse files with [default: the number of cores].",
    ),
    click.option("--no-cache", is_flag=True, help="Neither read nor write the cache of per-file results."),
    click.option(
        "--cache-dir",
        type=click.Path(file_okay=False),
        envvar="WALINT_CACHE_DIR",
        default=".walint_cache",
        show_default=True,
        help="Where per-file results are cached (env: WALINT_CACHE_DIR).",
    ),
)


def run_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add --jobs, --no-cache and --cache-dir; the command receives ``jobs`` and ``cache``."""

    @functools.wraps(command)
    def with_run_options(jobs: Optional[int], no_cache: bool, cache_dir: str, **kwargs: object) -> None:
        command(jobs=jobs or default_jobs(), cache=None if no_cache else Cache(cache_dir), **kwargs)

    for option in reversed(_RUN_OPTIONS):
        with_run_options = option(with_run_options)
    return with_run_options


def file_selection_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add the shared options to a command, which receives them as ``selection``."""
    names = [field.name for field in fields(FileSelection)]

    @functools.wraps(command)
    def with_selection(**kwargs: object) -> None:
        selection = FileSelection(**{name: kwargs.pop(name) for name in names})  # type: ignore[arg-type]
        command(selection=selection, **kwargs)

    for option in reversed(_FILE_SELECTION_OPTIONS):
        with_selection = option(with_selection)
    return with_selection


@dataclass(frozen=True)
class StdinSource:
    """Source read from standard input (PATH `-`), and the file it stands for."""

    display: str
    data: bytes
    # --force-exclude and an excluded --stdin-filename: check nothing (a fix echoes it back).
    excluded: bool = False


@dataclass(frozen=True)
class Inputs:
    """What a command works on: the settings, the files, and how to read them (standard
    input is one more file, served by ``read``)."""

    settings: Settings
    files: List[Candidate]
    stdin: Optional[StdinSource] = None
    read: Reader = read_bytes


def resolve_inputs(
    paths: Sequence[str], selection: FileSelection, extend_select: Tuple[str, ...] = (), helper: Optional[str] = None
) -> Inputs:
    """Load the configuration, merge the flags (plus ``extend_select`` and ``helper``), and
    find the files.

    Exits 2 on a configuration error or a missing path.
    """
    if STDIN_PATH in paths and len(paths) > 1:
        fail("`-` (standard input) cannot be combined with other paths")
    reading_stdin = list(paths) == [STDIN_PATH]
    try:
        file_options = _file_options(paths, selection, reading_stdin)
        settings = resolve_settings(file_options, _command_line_options(selection, extend_select, helper))
    except ConfigError as error:
        fail(str(error))
    if reading_stdin:
        display = selection.stdin_filename or STDIN_PATH
        excluded = bool(settings.force_exclude and selection.stdin_filename and is_excluded(display, settings.exclude))
        stdin = StdinSource(display, read_stdin(), excluded)
        files = [] if excluded else [Candidate(Path(display), display)]
        return Inputs(settings, files, stdin, serving(display, stdin.data))
    try:
        files = discover(paths or ["."], settings.exclude, settings.respect_gitignore, settings.force_exclude)
    except PathNotFound as missing:
        fail(f"{missing}: no such file or directory")
    return Inputs(settings, files)


def read_stdin() -> bytes:
    """Standard input, at most ``discovery.MAX_READ_BYTES`` of it (``/dev/zero`` never
    ends); more is an error (exit 2), never read whole."""
    from walint import discovery

    limit = discovery.MAX_READ_BYTES
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        fail(f"standard input: too large to read: over the {limit // 2**20} MB limit")
    return data


def _file_options(paths: Sequence[str], selection: FileSelection, reading_stdin: bool) -> Options:
    if selection.isolated:
        return Options()
    if selection.config_file:
        return load_config(Path(selection.config_file))
    start = (selection.stdin_filename or ".") if reading_stdin else (paths[0] if paths else ".")
    found = find_config(start)
    return load_config(found) if found else Options()


def _command_line_options(selection: FileSelection, extend_select: Tuple[str, ...], helper: Optional[str] = None) -> Options:
    def codes(values: Tuple[str, ...], flag: str) -> Optional[Tuple[str, ...]]:
        return parse_codes(values, flag) if values else None

    extended = (codes(selection.extend_select, "--extend-select") or ()) + extend_select
    return Options(
        select=codes(selection.select, "--select"),
        extend_select=extended or None,
        ignore=codes(selection.ignore, "--ignore"),
        exclude=selection.exclude or None,
        extend_exclude=selection.extend_exclude or None,
        respect_gitignore=selection.respect_gitignore,
        force_exclude=selection.force_exclude,
        helper=parse_helper(helper, "--helper") if helper is not None else None,
    )


# ----- the commands ----------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="walint")
def main() -> None:
    """Find and fix SQLite journal-mode fallbacks that can corrupt a shared database."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@file_selection_options
@click.option("--output-format", type=click.Choice(list(FORMATS)), default="full", show_default=True)
@click.option("-o", "--output-file", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option("--statistics", is_flag=True, help="Count the findings per rule instead of listing them.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("-q", "--quiet", is_flag=True, help="Print the findings and nothing else (no summary).")
@click.option("--report-unused-noqa", is_flag=True, help=f"Report suppression comments that suppress nothing ({UNUSED_SUPPRESSION}).")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False), help="Report only findings not recorded in this baseline.")
@click.option("--write-baseline", "write_baseline_file", type=click.Path(dir_okay=False), help="Record today's findings in this baseline and exit 0.")
@run_options
def check(
    paths: Sequence[str],
    selection: FileSelection,
    output_format: str,
    output_file: Optional[str],
    statistics: bool,
    exit_zero: bool,
    quiet: bool,
    report_unused_noqa: bool,
    baseline_file: Optional[str],
    write_baseline_file: Optional[str],
    jobs: int,
    cache: Optional[Cache],
) -> None:
    """Check PATHS (files or directories; default: the current directory; `-`: stdin)."""
    if baseline_file and write_baseline_file:
        fail("--baseline and --write-baseline cannot be combined")
    inputs = resolve_inputs(paths, selection, (UNUSED_SUPPRESSION,) if report_unused_noqa else ())
    if output_format in CARRIES_EDITS and not statistics and not write_baseline_file:
        inputs = replace(inputs, settings=replace(inputs.settings, render_fixes=RENDER_ALL))
    result = _run(paths, inputs, jobs, cache)
    _print_errors(result.errors)
    findings = result.findings
    try:
        if write_baseline_file:
            Baseline.of(findings, Path(write_baseline_file)).save(Path(write_baseline_file))
            if not quiet:
                noun = "finding" if len(findings) == 1 else "findings"
                click.echo(f"walint: wrote {len(findings)} {noun} to {printable(write_baseline_file)}", err=True)
            sys.exit(EXIT_ERROR if result.errors else EXIT_CLEAN)
        if baseline_file:
            findings = Baseline.load(Path(baseline_file)).new_findings(findings)
    except BaselineError as error:
        fail(str(error))
    _write_report(findings, inputs, output_format, output_file, statistics, quiet)
    if result.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if findings and not exit_zero else EXIT_CLEAN)


def _run(paths: Sequence[str], inputs: Inputs, jobs: int = 1, cache: Optional[Cache] = None) -> RunResult:
    roots, cache = _roots_and_cache(paths, inputs, cache)
    return check_files(inputs.files, inputs.settings, roots=roots, jobs=jobs, cache=cache, read=inputs.read)


def _roots_and_cache(paths: Sequence[str], inputs: Inputs, cache: Optional[Cache]) -> Tuple[List[str], Optional[Cache]]:
    """Standard input is checked on its own (no roots to index) and never cached."""
    if inputs.stdin is not None:
        return [], None
    return list(paths or ["."]), cache


def _write_report(
    findings: Sequence[Finding],
    inputs: Inputs,
    output_format: str,
    output_file: Optional[str],
    statistics: bool,
    quiet: bool,
) -> None:
    # Only SARIF lists the rules whatever was found; a clean run need not load them.
    context = _report_context(inputs, output_file, quiet, with_rules=bool(findings) or output_format == "sarif")
    if statistics:
        as_json = output_format in ("json", "json-lines")
        text = (statistics_report.render_json if as_json else statistics_report.render_text)(findings, context)
    else:
        text = FORMATS[output_format](findings, context)
    if output_file is None:
        click.echo(text, nl=False, color=context.colour)
        return
    try:
        write_output(output_file, text.encode("utf-8"))
    except UnsafeWrite as error:
        fail(f"{output_file}: {error}")
    except OSError as error:
        fail(f"{output_file}: cannot write the report: {error.strerror or error}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@file_selection_options
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff and write nothing; exit 1 if there are any.")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes that drop statements besides the hazard.")
@click.option(
    "--helper",
    metavar="MODULE:FUNCTION",
    help=f"Where fixed code imports the safe helper from [default: {Settings.helper}].",
)
@click.option(
    "--output-format",
    type=click.Choice(["full", "concise"]),
    default="full",
    show_default=True,
    help="How to show the findings that remain.",
)
@click.option("-q", "--quiet", is_flag=True, help="Print the remaining findings and nothing else.")
@run_options
def fix(
    paths: Sequence[str],
    selection: FileSelection,
    diff: bool,
    unsafe_fixes: bool,
    helper: Optional[str],
    output_format: str,
    quiet: bool,
    jobs: int,
    cache: Optional[Cache],
) -> None:
    """Fix PATHS in place (default: the current directory; `-`: stdin to stdout).

    Safe fixes are applied (`walint explain CODE` says which are which); the file is
    re-checked and fixed again until nothing changes, then written atomically.
    """
    from walint import fixer

    inputs = resolve_inputs(paths, selection, helper=helper)
    stdin = inputs.stdin
    roots, cache = _roots_and_cache(paths, inputs, cache)
    # Standard input is never written back: its fixed source goes to stdout.
    write = not diff and stdin is None
    run = fixer.fix(inputs.files, inputs.settings, roots, unsafe_fixes, write=write, jobs=jobs, cache=cache, read=inputs.read)
    if diff:
        for display, (before, after) in sorted(run.changes.items()):
            click.echo(unified_diff(display, before, after), nl=False)
    fixed_stdin = None
    if stdin is not None:
        # What cannot be fixed (an excluded name, a refused fix) comes back unchanged.
        fixed_stdin = run.changes.get(stdin.display, (stdin.data, stdin.data))[1]
        if not diff:
            sys.stdout.buffer.write(fixed_stdin)
            sys.stdout.flush()
    _finish_fix(run, inputs, output_format, quiet, diff, err=stdin is not None, fixed_stdin=fixed_stdin)


def _finish_fix(
    run: FixRun,
    inputs: Inputs,
    output_format: str,
    quiet: bool,
    diff: bool,
    err: bool,
    fixed_stdin: Optional[bytes] = None,
) -> NoReturn:
    _print_errors(run.errors)
    if not run.converged:
        click.echo(
            "walint: error: the fixes did not settle after several rounds; "
            "this is a bug in walint, please report it with the file",
            err=True,
        )
    if diff:
        if not quiet:
            noun = "error" if run.fixed == 1 else "errors"
            click.echo(f"Would fix {run.fixed} {noun} ({len(run.remaining)} remaining).", err=True)
        sys.exit(EXIT_ERROR if run.errors else (EXIT_FINDINGS if run.changes else EXIT_CLEAN))
    if run.remaining:
        context = _report_context(inputs, None, quiet=True, stdin_data=fixed_stdin, err=err)
        click.echo(FORMATS[output_format](run.remaining, context), nl=False, err=err, color=context.colour)
    if not quiet:
        total = run.fixed + len(run.remaining)
        noun = "error" if total == 1 else "errors"
        hidden = sum(1 for f in run.remaining if f.fix is not None and not f.fix.is_safe)
        more = f"\n[*] {hidden} more fixable with `walint fix --unsafe-fixes`." if hidden else ""
        if total:
            click.echo(f"Found {total} {noun} ({run.fixed} fixed, {len(run.remaining)} remaining).{more}", err=err)
        else:
            click.echo("All checks passed!", err=err)
    if run.errors or not run.converged:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if run.remaining else EXIT_CLEAN)


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


@main.command("helper")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Where to write the module; `-` for standard output.",
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
def helper_command(output: str, force: bool) -> None:
    """Write a self-contained copy of the safe helper module (standard library only).

    Vendor it into your package and point fixes at it with `helper =
    "yourpkg.module:apply_wal_with_fallback"` in [tool.walint] (or `--helper`), so
    fixed code does not need walint installed at run time.
    """
    from importlib import resources

    source = resources.files("walint").joinpath("runtime.py").read_bytes()
    header = (
        f"# Copied from walint {__version__} (`walint helper`): the safe way to enable WAL.\n"
        "# Standard library only; regenerate it rather than editing it.\n"
    ).encode()
    if output == STDIN_PATH:
        sys.stdout.buffer.write(header + source)
        return
    if os.path.lexists(output) and not force:
        fail(f"{output} exists; pass --force to overwrite it")
    try:
        write_output(output, header + source)
    except UnsafeWrite as error:
        fail(f"{output}: {error}")
    except OSError as error:
        fail(f"{output}: cannot write the helper: {error.strerror or error}")
    click.echo(f"walint: wrote the helper to {printable(output)}", err=True)


def _report_context(
    inputs: Inputs,
    output_file: Optional[str],
    quiet: bool,
    stdin_data: Optional[bytes] = None,
    err: bool = False,
    with_rules: bool = True,
) -> ReportContext:
    """How to render findings: code frames from the files (or stdin), colour on a terminal."""
    stdin = inputs.stdin
    stream = sys.stderr if err else sys.stdout
    return ReportContext(
        rules=_rule_infos() if with_rules else {},
        source_lines=SourceLines({stdin.display: stdin_data if stdin_data is not None else stdin.data} if stdin else None),
        colour=output_file is None and use_colour(stream.isatty()),
        show_summary=not quiet,
    )


def _rule_infos() -> Dict[str, RuleInfo]:
    from walint.docs import rule_infos  # imports every rule, and LibCST with them

    return rule_infos()


def use_colour(is_tty: bool) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return is_tty and not os.environ.get("NO_COLOR")


@main.command("rules")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_rules(output_format: str) -> None:
    """List every rule: code, name, whether it can fix, whether it is on by default."""
    infos = _rule_infos()
    if output_format == "json":
        rows = [
            {
                "code": info.code,
                "name": info.name,
                "summary": info.summary,
                "fixable": info.fixable,
                "default_enabled": info.default_enabled,
                "explanation": info.explanation,
            }
            for info in infos.values()
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(info.name) for info in infos.values())
    click.echo(f"{'Code':<7} {'Name':<{width}}  Fixable  Default  Summary")
    for info in infos.values():
        fixable = "yes" if info.fixable else "no"
        default = "on" if info.default_enabled else "off"
        click.echo(f"{info.code:<7} {info.name:<{width}}  {fixable:<7}  {default:<7}  {info.summary}")


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Print the documentation of rule CODE (the same text as rules/CODE.md)."""
    from walint.docs import render_page
    from walint.rules import RULES_BY_CODE

    rule = RULES_BY_CODE.get(code.upper())
    if rule is None:
        fail(f"unknown rule code {code!r}; `walint rules` lists them")
    click.echo(render_page(rule), nl=False)


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI in-process and return its exit code (for tests and embedding)."""
    try:
        main.main(args=list(argv) if argv is not None else None, prog_name="walint", standalone_mode=False)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.ClickException as error:
        error.show()
        return EXIT_ERROR
    return EXIT_CLEAN
