"""SARIF 2.1.0, the format GitHub code scanning and other dashboards import.

Each rule's metadata comes from its documentation (the same text as ``walint explain``),
so code scanning shows why a finding matters next to the finding itself.
"""

from __future__ import annotations

import json
import os
from pathlib import PurePath
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote

from walint import __version__
from walint.findings import Finding, Fix, Location
from walint.report.context import CHECK_ERROR_CODE, ReportContext, RuleInfo, relative_posix, stable_fingerprints

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# The partialFingerprints key; bump the suffix if the fingerprint's recipe changes.
FINGERPRINT_KEY = "walintFingerprint/v1"


def _uri(path: str) -> str:
    """Relative to the checkout (the working directory) where possible, as code scanning wants."""
    relative = relative_posix(path)
    if os.path.isabs(relative):
        return PurePath(os.path.abspath(path)).as_uri()
    # A file name that is not UTF-8 is percent-encoded as the bytes it is, like as_uri() does.
    return quote(relative.encode("utf-8", "surrogateescape"))


def _region(start: Location, end: Location) -> Dict[str, int]:
    # SARIF's endColumn is exclusive, as ours is; columns count code points (see columnKind).
    return {"startLine": start.row, "startColumn": start.column, "endLine": end.row, "endColumn": end.column}


def _rule(info: RuleInfo) -> Dict[str, Any]:
    return {
        "id": info.code,
        "name": info.name,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": info.explanation},
        "help": {"text": info.explanation, "markdown": info.explanation},
        "defaultConfiguration": {"level": "error", "enabled": info.default_enabled},
        "properties": {"fixable": info.fixable},
    }


def _fix(path: str, fix: Fix) -> Dict[str, Any]:
    return {
        "description": {"text": fix.message},
        "artifactChanges": [
            {
                "artifactLocation": {"uri": _uri(path)},
                "replacements": [
                    {
                        "deletedRegion": _region(edit.location, edit.end_location),
                        "insertedContent": {"text": edit.content},
                    }
                    for edit in fix.edits
                ],
            }
        ],
    }


def _result(finding: Finding, fingerprint: str, rule_index: Optional[int]) -> Dict[str, Any]:
    result: Dict[str, Any] = {
        "ruleId": finding.code,
        "level": "error",
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.path)},
                    "region": _region(finding.location, finding.end_location),
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
    }
    if rule_index is not None:
        result["ruleIndex"] = rule_index
    if finding.fix is not None and finding.fix.edits:
        result["fixes"] = [_fix(finding.path, finding.fix)]
    return result


def _invocation(context: ReportContext) -> Dict[str, Any]:
    return {
        "executionSuccessful": not context.errors,
        "toolExecutionNotifications": [
            {
                "level": "error",
                "message": {"text": f"could not be checked: {problem}"},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(path)}}}],
                "descriptor": {"id": CHECK_ERROR_CODE},
            }
            for path, problem in context.errors
        ],
    }


def render(findings: Sequence[Finding], context: ReportContext) -> str:
    rules: List[RuleInfo] = sorted(context.rules.values(), key=lambda info: info.code)
    index = {info.code: position for position, info in enumerate(rules)}
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "walint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule(info) for info in rules],
                    }
                },
                # Files that could not be checked: a dashboard must not read their silence
                # as clean code.
                "invocations": [_invocation(context)],
                "columnKind": "unicodeCodePoints",
                "results": [
                    _result(finding, fingerprint, index.get(finding.code))
                    for finding, fingerprint in zip(findings, stable_fingerprints(findings))
                ],
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"
