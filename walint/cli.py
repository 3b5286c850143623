"""The ``walint`` command line: check, rules, explain."""

from __future__ import annotations

import json
import sys
from typing import Optional, Sequence, Tuple

import click

from walint import __version__
from walint.discovery import PathNotFound, discover
from walint.report import FORMATS
from walint.rules import ALL_RULES, RULES_BY_CODE
from walint.runner import check_files
from walint.settings import Settings

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(values: Sequence[str]) -> Tuple[str, ...]:
    """Split ``--select WAL001,WAL002`` and repeated flags into one tuple of codes."""
    codes = tuple(c.strip().upper() for value in values for c in value.split(",") if c.strip())
    for code in codes:
        if not any(rule.code.startswith(code) for rule in ALL_RULES):
            raise click.BadParameter(f"unknown rule code {code!r}")
    return codes


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="walint")
def main() -> None:
    """Find and fix SQLite journal-mode fallbacks that can corrupt a shared database."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--output-format", type=click.Choice(sorted(FORMATS)), default="full", show_default=True)
@click.option("--select", multiple=True, help="Only these rule codes (or prefixes), comma-separated.")
@click.option("--ignore", multiple=True, help="Skip these rule codes (or prefixes), comma-separated.")
@click.option("--exclude", multiple=True, help="Glob of files or directories to skip.")
@click.option("--respect-gitignore/--no-respect-gitignore", default=True, show_default=True)
def check(
    paths: Sequence[str],
    output_format: str,
    select: Sequence[str],
    ignore: Sequence[str],
    exclude: Sequence[str],
    respect_gitignore: bool,
) -> None:
    """Check PATHS (files or directories; default: the current directory)."""
    settings = Settings(
        select=_codes(select) or None,
        ignore=_codes(ignore),
        exclude=tuple(exclude),
        respect_gitignore=respect_gitignore,
    )
    try:
        candidates = discover(paths or ["."], settings.exclude, settings.respect_gitignore)
    except PathNotFound as missing:
        click.echo(f"walint: error: {missing}: no such file or directory", err=True)
        sys.exit(EXIT_ERROR)
    result = check_files(candidates, settings, roots=list(paths or ["."]))
    for path, problem in result.errors:
        click.echo(f"walint: error: {path}: {problem}", err=True)
    click.echo(FORMATS[output_format](result.findings), nl=False)
    if result.errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if result.findings else EXIT_CLEAN)


@main.command("rules")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
def list_rules(output_format: str) -> None:
    """List every rule: code, name, whether it can fix, whether it is on by default."""
    rows = [
        {"code": r.code, "name": r.name, "summary": r.summary(), "default": r.default_enabled}
        for r in ALL_RULES
    ]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['code']}  {row['name']:<24} {row['summary']}")


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Print the documentation of rule CODE."""
    rule = RULES_BY_CODE.get(code.upper())
    if rule is None:
        click.echo(f"walint: error: unknown rule code {code!r}", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(f"# {rule.name} ({rule.code})\n")
    click.echo(rule.documentation())


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
