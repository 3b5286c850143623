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
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

import click

from walint import __version__
from walint.baseline import Baseline, BaselineError
from walint.console import printable, warn
from walint.config import (
    ConfigError,
    Options,
    find_config,
    load_config,
    parse_codes,
    parse_helper,
    resolve_run,
    resolve_settings,
)
from walint.discovery import Candidate, PathNotFound, discover, is_excluded, read_bytes
from walint.findings import Finding
from walint.report import CARRIES_EDITS, FORMATS, ReportContext, RuleInfo, SourceLines
from walint.report import statistics as statistics_report
from walint.cache import DEFAULT_DIRECTORY, Cache
from walint.codes import UNUSED_SUPPRESSION
from walint.project import naming_bases, project_root
from walint.runner import Observer, Project, Reader, RunResult, check_files, default_jobs, serving
from walint.settings import RENDER_ALL, Settings
from walint.writing import UnsafeWrite, write_output

if TYPE_CHECKING:
    from walint.fixer import FixRun

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as ruff and shells report Ctrl-C
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
    include: Tuple[str, ...]
    extend_include: Tuple[str, ...]
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
    click.option("--include", multiple=True, help="Files a directory walk checks (glob); replaces `include` [default: *.py, *.pyi]."),
    click.option("--extend-include", multiple=True, help="Files a directory walk checks (glob), in addition."),
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
        default=None,
        help="Where per-file results are cached (env: WALINT_CACHE_DIR) [default: .walint_cache beside the configuration file, else here].",
    ),
)


@dataclass(frozen=True)
class RunOptions:
    """--jobs, --no-cache and --cache-dir as given; ``jobs`` and ``cache-dir`` in the
    configuration file fill in what they leave unset (:meth:`resolve`)."""

    jobs: Optional[int] = None
    no_cache: bool = False
    cache_dir: Optional[str] = None

    def resolve(self, inputs: "Inputs") -> Tuple[int, Optional[Cache]]:
        """The processes to use and the cache (None: ``--no-cache``)."""
        cache_dir, jobs = resolve_run(inputs.options, Options(cache_dir=self.cache_dir, jobs=self.jobs))
        if self.no_cache:
            return jobs or default_jobs(), None
        return jobs or default_jobs(), Cache(cache_dir or default_cache_dir(inputs.config))


def default_cache_dir(config: Optional[str]) -> str:
    """``.walint_cache`` at the project root, as ruff puts ``.ruff_cache``: in the folder of
    the configuration file in use, else the working directory."""
    if config is None:
        return DEFAULT_DIRECTORY
    folder = os.path.dirname(config) or os.curdir
    try:
        here = os.path.samefile(folder, os.curdir)
    except OSError:
        here = False
    return DEFAULT_DIRECTORY if here else os.path.join(folder, DEFAULT_DIRECTORY)


def run_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add --jobs, --no-cache and --cache-dir; the command receives them as ``run``."""

    @functools.wraps(command)
    def with_run_options(jobs: Optional[int], no_cache: bool, cache_dir: Optional[str], **kwargs: object) -> None:
        command(run=RunOptions(jobs, no_cache, cache_dir), **kwargs)

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
    # The configuration file in use, whose folder is the project root.
    config: Optional[str] = None
    # Its options (for ``jobs`` and ``cache-dir``, which are not settings).
    options: Options = Options()


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
        file_options, config = _file_options(paths, selection, reading_stdin)
        settings = resolve_settings(file_options, _command_line_options(selection, extend_select, helper))
    except ConfigError as error:
        fail(str(error))
    if reading_stdin:
        display = selection.stdin_filename or STDIN_PATH
        excluded = bool(settings.force_exclude and selection.stdin_filename and is_excluded(display, settings.exclude))
        stdin = StdinSource(display, read_stdin(), excluded)
        files = [] if excluded else [Candidate(Path(display), display)]
        return Inputs(settings, files, stdin, serving(display, stdin.data), config, file_options)
    try:
        files = discover(
            paths or ["."], settings.exclude, settings.respect_gitignore, settings.force_exclude, settings.include
        )
    except PathNotFound as missing:
        fail(f"{missing}: no such file or directory")
    warn_when_nothing_to_check(files)
    return Inputs(settings, files, config=config, options=file_options)


def warn_when_nothing_to_check(files: Sequence[Candidate]) -> None:
    """ruff's warning when every path given was excluded or held no Python file, so that a
    clean result over nothing is never mistaken for a clean project."""
    if not files:
        warn("No Python files found under the given path(s)")


def read_stdin() -> bytes:
    """Standard input, at most ``discovery.MAX_READ_BYTES`` of it (``/dev/zero`` never
    ends); more is an error (exit 2), never read whole."""
    from walint import discovery

    limit = discovery.MAX_READ_BYTES
    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        fail(f"standard input: too large to read: over the {limit // 2**20} MB limit")
    return data


def _file_options(paths: Sequence[str], selection: FileSelection, reading_stdin: bool) -> Tuple[Options, Optional[str]]:
    """The configuration file's options, and the file (None: defaults only)."""
    if selection.isolated:
        return Options(), None
    if selection.config_file:
        return load_config(Path(selection.config_file)), selection.config_file
    start = (selection.stdin_filename or ".") if reading_stdin else (paths[0] if paths else ".")
    found = find_config(start)
    return (load_config(found), str(found)) if found else (Options(), None)


def find_project(paths: Sequence[str], inputs: Inputs) -> Optional[Project]:
    """The project the files belong to (see :func:`walint.project.project_root`), with
    every Python file in it; None when there is none (the paths given are the project).

    Its files are found as a walk of the root finds them (``.gitignore`` and the pruned
    folders apply) except that ``exclude`` does not: an excluded module still tells the
    files that import it what it does; its own findings are never reported.
    """
    if inputs.stdin is not None:
        start = [inputs.stdin.display] if inputs.stdin.display != STDIN_PATH else []
        if not start:
            return None
    else:
        start = list(paths or ["."])
    root = project_root(start, inputs.config)
    if root is None:
        return None
    try:
        files = discover([root], (), inputs.settings.respect_gitignore)
    except PathNotFound:
        return None
    return Project(root, naming_bases(root), files)


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
        include=selection.include or None,
        extend_include=selection.extend_include or None,
        helper=parse_helper(helper, "--helper") if helper is not None else None,
    )


# ----- progress and verbosity ------------------------------------------------------------

# A progress bar appears once a run has this many files to go through, or has lasted this long.
PROGRESS_MIN_FILES = 2000
PROGRESS_AFTER_SECONDS = 1.0


class RunObserver(Observer):
    """The command line's :class:`Observer`: a progress bar on a terminal's stderr for long
    runs (never when piped, with ``-q`` or when ``CI`` is set), and the phase timings for
    ``--verbose``."""

    def __init__(self, show_progress: bool) -> None:
        super().__init__()
        self.show_progress = show_progress
        self.started = time.perf_counter()
        self.total = 0
        self.done = 0
        self.bar: Optional[object] = None
        self.project: Optional[Project] = None

    def expect(self, files: int) -> None:
        self.total += files
        if self.bar is not None:
            self.bar.length = self.total  # type: ignore[attr-defined]

    def advance(self, files: int = 1) -> None:
        self.done += files
        if self.bar is None and self.show_progress and (
            self.total >= PROGRESS_MIN_FILES or time.perf_counter() - self.started > PROGRESS_AFTER_SECONDS
        ):
            self.bar = click.progressbar(length=max(self.total, 1), label="Checking", file=sys.stderr, show_pos=True)
            self.bar.__enter__()  # type: ignore[attr-defined]
            self.bar.update(self.done)  # type: ignore[attr-defined]
        elif self.bar is not None:
            self.bar.update(files)  # type: ignore[attr-defined]

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)  # type: ignore[attr-defined]
            self.bar = None


def wants_progress(quiet: bool, verbose: bool = False) -> bool:
    """A progress bar only for a person watching a terminal: not piped, quiet or in CI."""
    return not quiet and not os.environ.get("CI") and sys.stderr.isatty()


def print_verbose(inputs: Inputs, result: RunResult, observer: RunObserver) -> None:
    """What was checked and where the time went, per phase, on stderr."""
    project = observer.project
    if project is not None:
        click.echo(f"walint: project root {printable(project.root)} ({len(project.files)} Python files)", err=True)
    else:
        click.echo("walint: no project root (no configuration file or .git above the paths): the paths are the project", err=True)
    if inputs.config:
        click.echo(f"walint: configuration {printable(inputs.config)}", err=True)
    click.echo(
        f"walint: checked {result.files_checked} files, parsed {result.files_parsed}; "
        f"for context read {result.context_read} more and parsed {result.context_parsed}",
        err=True,
    )
    total = time.perf_counter() - observer.started
    for phase in ("discovery", "prefilter", "analyse", "project", "report"):
        click.echo(f"walint: {phase:<10} {observer.timings.get(phase, 0.0):8.3f} s", err=True)
    click.echo(f"walint: {'total':<10} {total:8.3f} s (since the command started)", err=True)


# ----- fixing and colour, shared by `check` and `fix` -------------------------------------


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


_SHOW_FIXES = click.option("--show-fixes", is_flag=True, help="List the fixes applied, per file.")


# `--color`: "auto" (a terminal, unless NO_COLOR; FORCE_COLOR forces it), "always", "never".
_colour_choice = "auto"


def use_colour(is_tty: bool) -> bool:
    """Colour per ``--color``; in "auto", only on a terminal and never when NO_COLOR is set
    (no-color.org), unless FORCE_COLOR is (force-color.org)."""
    if _colour_choice != "auto":
        return _colour_choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    return is_tty or bool(os.environ.get("FORCE_COLOR"))


def colour_option(command: Callable[..., None]) -> Callable[..., None]:
    """Add ``--color [auto|always|never]`` (ruff's spelling and default)."""

    @functools.wraps(command)
    def with_colour(color: str, **kwargs: object) -> None:
        global _colour_choice
        _colour_choice = color
        command(**kwargs)

    return click.option(
        "--color",
        type=click.Choice(["auto", "always", "never"]),
        default="auto",
        show_default=True,
        help="Colour the output: on a terminal (auto; NO_COLOR and FORCE_COLOR are honoured), always or never.",
    )(with_colour)


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


# ----- the commands ----------------------------------------------------------------------


class WalintGroup(click.Group):
    """The ``walint`` group: every error, click's usage errors included, is printed the one
    way, ``walint: error: ...`` on stderr, and exits 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as error:
            show_click_error(error)
            sys.exit(EXIT_ERROR)
        except click.Abort as abort:
            if isinstance(abort.__cause__, KeyboardInterrupt):
                sys.exit(EXIT_INTERRUPTED)  # Ctrl-C: quietly, with the shell's code for SIGINT
            click.echo("walint: error: aborted", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else EXIT_CLEAN)


def show_click_error(error: click.ClickException) -> None:
    """``walint: error: message``, then for a usage error where to find help (as ruff does)."""
    click.echo(f"walint: error: {printable(error.format_message())}", err=True)
    context = getattr(error, "ctx", None)
    if isinstance(error, click.UsageError) and context is not None:
        click.echo(f"For more information, try '{context.command_path} --help'.", err=True)


@click.group(cls=WalintGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="walint")
def main() -> None:
    """Find and fix SQLite journal-mode fallbacks that can corrupt a shared database."""


@main.command(short_help="Check PATHS for journal-mode hazards.")
@click.argument("paths", nargs=-1, type=click.Path())
@file_selection_options
@click.option("--fix", "apply_fixes", is_flag=True, help="Apply the fixes, as `walint fix` does.")
@click.option("--unsafe-fixes", is_flag=True, help="Count unsafe fixes as available (and apply them with --fix).")
@_SHOW_FIXES
@colour_option
@click.option("--output-format", type=click.Choice(list(FORMATS)), default="full", show_default=True)
@click.option("-o", "--output-file", type=click.Path(dir_okay=False), help="Write the report here instead of stdout.")
@click.option("--statistics", is_flag=True, help="Count the findings per rule instead of listing them.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option("-q", "--quiet", is_flag=True, help="Print the findings and nothing else (no summary).")
@click.option("-v", "--verbose", is_flag=True, help="Say what is checked and where the time went, on stderr.")
@click.option("--show-files", is_flag=True, help="List the files that would be checked, and check nothing.")
@click.option("--report-unused-noqa", is_flag=True, help=f"Report suppression comments that suppress nothing ({UNUSED_SUPPRESSION}).")
@click.option("--baseline", "baseline_file", type=click.Path(dir_okay=False), help="Report only findings not recorded in this baseline.")
@click.option("--write-baseline", "write_baseline_file", type=click.Path(dir_okay=False), help="Record today's findings in this baseline and exit 0.")
@run_options
def check(
    paths: Sequence[str],
    selection: FileSelection,
    apply_fixes: bool,
    unsafe_fixes: bool,
    show_fixes: bool,
    output_format: str,
    output_file: Optional[str],
    statistics: bool,
    exit_zero: bool,
    quiet: bool,
    verbose: bool,
    show_files: bool,
    report_unused_noqa: bool,
    baseline_file: Optional[str],
    write_baseline_file: Optional[str],
    run: RunOptions,
) -> None:
    """Check PATHS (files or directories; default: the current directory; `-`: stdin)."""
    if baseline_file and write_baseline_file:
        fail("--baseline and --write-baseline cannot be combined")
    if apply_fixes:
        if baseline_file or write_baseline_file or show_files:
            fail("--fix cannot be combined with --baseline, --write-baseline or --show-files")
        request = FixRequest(
            unsafe_fixes=unsafe_fixes,
            output_format=output_format,
            output_file=output_file,
            quiet=quiet,
            statistics=statistics,
            exit_zero=exit_zero,
            show_fixes=show_fixes,
        )
        run_fix(paths, selection, request, run)
    observer = RunObserver(wants_progress(quiet))
    with observer.phase("discovery"):
        inputs = resolve_inputs(paths, selection, (UNUSED_SUPPRESSION,) if report_unused_noqa else ())
    if show_files:
        list_files(inputs)
    if output_format in CARRIES_EDITS and not statistics and not write_baseline_file:
        inputs = replace(inputs, settings=replace(inputs.settings, render_fixes=RENDER_ALL))
    jobs, cache = run.resolve(inputs)
    try:
        result = _run(paths, inputs, jobs, cache, observer)
    finally:
        observer.close()
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
    with observer.phase("report"):
        _write_report(findings, inputs, output_format, output_file, statistics, quiet, result.errors, unsafe_fixes)
    if verbose:
        print_verbose(inputs, result, observer)
    if result.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if findings and not exit_zero else EXIT_CLEAN)


def list_files(inputs: Inputs) -> NoReturn:
    """``--show-files``: the files a check would read, one a line, sorted; exit 0."""
    for display in sorted(candidate.display for candidate in inputs.files):
        click.echo(printable(display))
    sys.exit(EXIT_CLEAN)


def _run(
    paths: Sequence[str], inputs: Inputs, jobs: int = 1, cache: Optional[Cache] = None, observer: Optional[Observer] = None
) -> RunResult:
    observer = observer if observer is not None else Observer()
    with observer.phase("discovery"):
        project = find_project(paths, inputs)
    roots, cache = _roots_and_cache(paths, inputs, cache)
    if isinstance(observer, RunObserver):
        observer.project = project
    return check_files(
        inputs.files, inputs.settings, roots=roots, jobs=jobs, cache=cache, read=inputs.read, project=project, observer=observer
    )


def _roots_and_cache(paths: Sequence[str], inputs: Inputs, cache: Optional[Cache]) -> Tuple[List[str], Optional[Cache]]:
    """Nothing is cached for standard input; without a project, its modules are named
    from its own folder."""
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
    errors: Sequence[Tuple[str, str]] = (),
    unsafe_fixes: bool = False,
) -> None:
    # Only SARIF lists the rules whatever was found; a clean run need not load them.
    context = _report_context(
        inputs, output_file, quiet, with_rules=bool(findings) or output_format == "sarif", errors=errors
    )
    context = replace(context, unsafe_fixes=unsafe_fixes)
    if statistics:
        as_json = output_format in ("json", "json-lines")
        text = (statistics_report.render_json if as_json else statistics_report.render_text)(findings, context)
    else:
        text = FORMATS[output_format](findings, context)
    _emit(text, output_file, context.colour)


@main.command(short_help="Fix PATHS in place.")
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
    type=click.Choice(list(FORMATS)),
    default="full",
    show_default=True,
    help="How to show the findings that remain.",
)
@click.option("-o", "--output-file", type=click.Path(dir_okay=False), help="Write the report of what remains here.")
@click.option("--statistics", is_flag=True, help="Count the remaining findings per rule instead of listing them.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain.")
@click.option("--exit-non-zero-on-fix", is_flag=True, help="Exit 1 when anything was fixed, even if nothing remains.")
@_SHOW_FIXES
@colour_option
@click.option("-q", "--quiet", is_flag=True, help="Print the remaining findings and nothing else.")
@run_options
def fix(
    paths: Sequence[str],
    selection: FileSelection,
    run: RunOptions,
    **options: object,
) -> None:
    """Fix PATHS in place (default: the current directory; `-`: stdin to stdout).

    Safe fixes are applied (`walint explain CODE` says which are which); the file is
    re-checked and fixed again until nothing changes, then written atomically.
    """
    run_fix(paths, selection, FixRequest(**options), run)  # type: ignore[arg-type]


def run_fix(paths: Sequence[str], selection: FileSelection, request: FixRequest, options: RunOptions) -> NoReturn:
    from walint import fixer

    inputs = resolve_inputs(paths, selection, helper=request.helper)
    jobs, cache = options.resolve(inputs)
    stdin = inputs.stdin
    roots, cache = _roots_and_cache(paths, inputs, cache)
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
    _print_errors(run.errors)
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
        context = _report_context(
            inputs, request.output_file, quiet=True, stdin_data=fixed_stdin, err=err, errors=run.errors
        )
        if request.statistics:
            as_json = request.output_format in ("json", "json-lines")
            text = (statistics_report.render_json if as_json else statistics_report.render_text)(run.remaining, context)
        else:
            text = FORMATS[request.output_format](run.remaining, context)
        _emit(text, request.output_file, context.colour, err)
    if request.show_fixes and run.fixed_in:
        click.echo(show_fixes(run.fixed_in), err=True)
    if not request.quiet:
        click.echo(fix_summary(run.fixed, run.remaining, len(run.errors)), err=err or machine)
    if run.errors or not run.converged:
        sys.exit(EXIT_ERROR)
    if request.exit_non_zero_on_fix and run.fixed:
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_FINDINGS if run.remaining and not request.exit_zero else EXIT_CLEAN)


def _emit(text: str, output_file: Optional[str], colour: bool, err: bool = False) -> None:
    """A report to stdout (stderr beside fixed stdin), or to ``output_file``."""
    if output_file is None:
        click.echo(text, nl=False, color=colour, err=err)
        return
    try:
        write_output(output_file, text.encode("utf-8"))
    except UnsafeWrite as error:
        fail(f"{output_file}: {error}")
    except OSError as error:
        fail(f"{output_file}: cannot write the report: {error.strerror or error}")


def show_fixes(fixed_in: Dict[str, List[Finding]]) -> str:
    """ruff's ``--show-fixes`` listing: each file, then how many of each rule were fixed."""
    from collections import Counter

    from walint.report.context import plural

    total = sum(len(findings) for findings in fixed_in.values())
    lines = [f"Fixed {plural(total, 'error')}:"]
    names = {code: info.name for code, info in _rule_infos().items()}
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


@main.command("helper", short_help="Write a copy of the safe helper module.")
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
    errors: Sequence[Tuple[str, str]] = (),
) -> ReportContext:
    """How to render findings: code frames from the files (or stdin), colour on a terminal."""
    stdin = inputs.stdin
    stream = sys.stderr if err else sys.stdout
    return ReportContext(
        rules=_rule_infos() if with_rules else {},
        source_lines=SourceLines({stdin.display: stdin_data if stdin_data is not None else stdin.data} if stdin else None),
        colour=output_file is None and use_colour(stream.isatty()),
        show_summary=not quiet,
        errors=tuple(errors),
    )


def _rule_infos() -> Dict[str, RuleInfo]:
    from walint.docs import rule_infos  # imports every rule, and LibCST with them

    return rule_infos()


@main.command("rules", short_help="List every rule.")
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
    import shutil
    import textwrap

    width = max(len(info.name) for info in infos.values())
    indent = 7 + 1 + width + 2 + 7 + 2 + 7 + 2
    # The summary column wraps at the terminal's width (80 columns when not a terminal).
    room = max(30, shutil.get_terminal_size((80, 24)).columns - indent)
    click.echo(f"{'Code':<7} {'Name':<{width}}  Fixable  Default  Summary")
    for info in infos.values():
        fixable = "yes" if info.fixable else "no"
        default = "on" if info.default_enabled else "off"
        lines = textwrap.wrap(info.summary, room) or [""]
        click.echo(f"{info.code:<7} {info.name:<{width}}  {fixable:<7}  {default:<7}  {lines[0]}")
        for line in lines[1:]:
            click.echo(" " * indent + line)


@main.command(short_help="Print a rule's documentation.")
@click.argument("code")
def explain(code: str) -> None:
    """Print the documentation of rule CODE (the same text as rules/CODE.md)."""
    from walint.docs import render_page
    from walint.rules import RULES_BY_CODE

    rule = RULES_BY_CODE.get(code.upper())
    if rule is None:
        fail(f"unknown rule code {code!r}; `walint rules` lists them")
    click.echo(render_page(rule), nl=False)


@main.command(short_help="Remove the cache directory.")
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    envvar="WALINT_CACHE_DIR",
    default=None,
    help="The cache to remove (env: WALINT_CACHE_DIR) [default: the one `check` here uses].",
)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="The configuration whose cache to remove.")
@click.option("--isolated", is_flag=True, help="Ignore every configuration file.")
def clean(cache_dir: Optional[str], config_file: Optional[str], isolated: bool) -> None:
    """Remove the cache of per-file results, as `ruff clean` does: the one a `check` run
    here would use (`--cache-dir`, else `cache-dir` in [tool.walint], else
    `.walint_cache` beside the configuration file, else here).

    Only a directory walint created (it holds walint's marker `.gitignore`) is removed.
    """
    import shutil

    if cache_dir is None:
        try:
            config: Optional[str] = None
            if config_file:
                config = config_file
            elif not isolated:
                found = find_config(".")
                config = str(found) if found else None
            file_options = load_config(Path(config)) if config else Options()
        except ConfigError as error:
            fail(str(error))
        cache_dir = file_options.cache_dir or default_cache_dir(config)
    path = Path(cache_dir)
    if not path.exists():
        return
    if path.is_symlink() or not (path / ".gitignore").is_file():
        fail(f"{cache_dir}: not a walint cache; remove it yourself if you meant to")
    shutil.rmtree(path, ignore_errors=False)
    click.echo(f"Removing cache at: {printable(str(path))}", err=True)


@main.command(short_help="Print walint's version.")
def version() -> None:
    """Print walint's version (as `walint --version` does)."""
    click.echo(f"walint {__version__}")


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI in-process and return its exit code (for tests and embedding)."""
    try:
        main.main(args=list(argv) if argv is not None else None, prog_name="walint", standalone_mode=False)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    except click.exceptions.Exit as exit_:
        return exit_.exit_code
    except click.ClickException as error:
        show_click_error(error)
        return EXIT_ERROR
    return EXIT_CLEAN
