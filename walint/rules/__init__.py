"""The rule catalogue: one module per rule, each a :class:`Rule` subclass.

A rule's docstring is its documentation (``walint explain``, the SARIF report, the pages
under ``rules/``) and its ``VALID``/``INVALID`` examples are its tests.
"""

from __future__ import annotations

from typing import Dict, Tuple, Type

from walint.rules.base import Invalid, ModelRule, Report, Rule, Valid
from walint.rules.connect_skips_guard import ConnectSkipsGuard
from walint.rules.fail_open_guard import FailOpenGuard
from walint.rules.parse_error import ParseError
from walint.rules.swallowed_wal_failure import SwallowedWalFailure
from walint.rules.transient_marker import TransientMarker
from walint.rules.unguarded_fallback import UnguardedFallback
from walint.rules.unused_suppression import UnusedSuppression

ALL_RULES: Tuple[Type[Rule], ...] = (
    ParseError,
    UnguardedFallback,
    TransientMarker,
    ConnectSkipsGuard,
    SwallowedWalFailure,
    FailOpenGuard,
    UnusedSuppression,
)
RULES_BY_CODE: Dict[str, Type[Rule]] = {rule.code: rule for rule in ALL_RULES}


__all__ = ["ALL_RULES", "RULES_BY_CODE", "Invalid", "ModelRule", "Report", "Rule", "Valid"]
