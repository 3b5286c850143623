"""How the command line fails: its exit codes, and the one way every error is printed
(``walint: error: ...`` on stderr), click's usage errors included."""

from __future__ import annotations

import sys
from typing import NoReturn, Sequence, Tuple

import click

from walint.console import printable

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as ruff and shells report Ctrl-C


def print_errors(errors: Sequence[Tuple[str, str]]) -> None:
    """Each ``(path, problem)`` as ``walint: error: path: problem``."""
    for path, problem in errors:
        click.echo(f"walint: error: {printable(path)}: {printable(problem)}", err=True)


def fail(message: str) -> NoReturn:
    """Print ``walint: error: message`` and exit 2."""
    click.echo(f"walint: error: {printable(message)}", err=True)
    sys.exit(EXIT_ERROR)


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
