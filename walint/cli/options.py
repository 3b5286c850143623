"""The options commands share, declared once: the file selection (configuration, paths,
rules), the run options (--jobs, the cache), --show-fixes and --color."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Callable, Optional, Tuple

import click

from walint.cache import DEFAULT_DIRECTORY, Cache
from walint.config import Options, resolve_run
from walint.runner import default_jobs

if TYPE_CHECKING:
    from walint.cli.inputs import Inputs


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


SHOW_FIXES = click.option("--show-fixes", is_flag=True, help="List the fixes applied, per file.")


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
