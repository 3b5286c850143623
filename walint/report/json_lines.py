"""One JSON object a line, in the shape of ``--output-format json``, for streaming consumers."""

from __future__ import annotations

import json
from typing import Sequence

from walint.findings import Finding
from walint.report.context import ReportContext
from walint.report.json_format import entries


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    return "".join(json.dumps(entry) + "\n" for entry in entries(findings, context))
