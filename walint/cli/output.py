"""Writing a report of findings, for ``check`` and ``fix`` alike: how to render it (code
frames, colour, the rules) and where it goes (stdout, stderr or ``--output-file``)."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Dict, Optional, Sequence, Tuple

import click

from walint.cli.errors import fail
from walint.cli.inputs import Inputs
from walint.cli.options import use_colour
from walint.findings import Finding
from walint.report import FORMATS, ReportContext, RuleInfo, SourceLines
from walint.report import statistics as statistics_report
from walint.writing import UnsafeWrite, write_output


def report_context(
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
        rules=rule_infos() if with_rules else {},
        source_lines=SourceLines({stdin.display: stdin_data if stdin_data is not None else stdin.data} if stdin else None),
        colour=output_file is None and use_colour(stream.isatty()),
        show_summary=not quiet,
        errors=tuple(errors),
    )


def rule_infos() -> Dict[str, RuleInfo]:
    from walint import docs  # imports every rule, and LibCST with them

    return docs.rule_infos()


def render(findings: Sequence[Finding], output_format: str, statistics: bool, context: ReportContext) -> str:
    """The report in ``output_format``, or with ``statistics`` the count per rule."""
    if statistics:
        as_json = output_format in ("json", "json-lines")
        return (statistics_report.render_json if as_json else statistics_report.render_text)(findings, context)
    return FORMATS[output_format](findings, context)


def emit(text: str, output_file: Optional[str], colour: bool, err: bool = False) -> None:
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


def write_report(
    findings: Sequence[Finding],
    inputs: Inputs,
    output_format: str,
    output_file: Optional[str],
    statistics: bool,
    quiet: bool,
    errors: Sequence[Tuple[str, str]] = (),
    unsafe_fixes: bool = False,
) -> None:
    """``check``'s report of ``findings``."""
    # Only SARIF lists the rules whatever was found; a clean run need not load them.
    context = report_context(
        inputs, output_file, quiet, with_rules=bool(findings) or output_format == "sarif", errors=errors
    )
    context = replace(context, unsafe_fixes=unsafe_fixes)
    emit(render(findings, output_format, statistics, context), output_file, context.colour)
