"""The ``walint`` group and its commands: ``check``, ``fix``, ``helper``, ``rules``,
``explain``, ``clean`` and ``version``, and :func:`run` to call them in-process."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import NoReturn, Optional, Sequence

import click

from walint import __version__
from walint.baseline import Baseline, BaselineError
from walint.cache import Cache
from walint.codes import UNUSED_SUPPRESSION
from walint.cli.errors import (
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    WalintGroup,
    fail,
    print_errors,
    show_click_error,
)
from walint.cli.fixing import FixRequest, run_fix
from walint.cli.inputs import STDIN_PATH, Inputs, find_project, resolve_inputs, roots_and_cache
from walint.cli.options import (
    SHOW_FIXES,
    FileSelection,
    RunOptions,
    colour_option,
    default_cache_dir,
    file_selection_options,
    run_options,
)
from walint.cli.output import rule_infos, write_report
from walint.cli.progress import RunObserver, print_verbose, wants_progress
from walint.config import ConfigError, Options, find_config, load_config
from walint.console import printable
from walint.report import CARRIES_EDITS, FORMATS
from walint.runner import Observer, RunResult, check_files
from walint.settings import RENDER_ALL, Settings
from walint.writing import UnsafeWrite, write_output


@click.group(cls=WalintGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="walint")
def main() -> None:
    """Find and fix SQLite journal-mode fallbacks that can corrupt a shared database."""


@main.command(short_help="Check PATHS for journal-mode hazards.")
@click.argument("paths", nargs=-1, type=click.Path())
@file_selection_options
@click.option("--fix", "apply_fixes", is_flag=True, help="Apply the fixes, as `walint fix` does.")
@click.option("--unsafe-fixes", is_flag=True, help="Count unsafe fixes as available (and apply them with --fix).")
@SHOW_FIXES
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
    print_errors(result.errors)
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
        write_report(findings, inputs, output_format, output_file, statistics, quiet, result.errors, unsafe_fixes)
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
    roots, cache = roots_and_cache(paths, inputs, cache)
    if isinstance(observer, RunObserver):
        observer.project = project
    return check_files(
        inputs.files, inputs.settings, roots=roots, jobs=jobs, cache=cache, read=inputs.read, project=project, observer=observer
    )


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
@SHOW_FIXES
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


@main.command("rules", short_help="List every rule.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_rules(output_format: str) -> None:
    """List every rule: code, name, whether it can fix, whether it is on by default."""
    infos = rule_infos()
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
