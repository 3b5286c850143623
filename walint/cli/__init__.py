"""The ``walint`` command line, whose entry points are ``main`` (the console script) and
``run`` (in-process); the commands themselves are in :mod:`walint.cli.commands`.

``check`` goes: flags and configuration -> settings and files (:mod:`walint.cli.inputs`;
stdin is one more file) -> :mod:`walint.runner` -> baseline -> report
(:mod:`walint.cli.output`) -> exit code (:mod:`walint.cli.errors`), and ``fix`` hands the
same inputs to :mod:`walint.fixer` (:mod:`walint.cli.fixing`).
"""

from walint.cli.commands import main, run

__all__ = ["main", "run"]
