"""The shape every rule shares (identity from its spec, docs, examples), and the kind that checks a module."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterator, Optional, Sequence, Tuple

import libcst as cst

from walint.codes import RuleSpec
from walint.fixes import FixPlan, HelperSpec
from walint.settings import Settings

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel


ALWAYS, SOMETIMES, NEVER = "always", "sometimes", "never"


@dataclass(frozen=True)
class Valid:
    """Code the rule must accept."""

    code: str


@dataclass(frozen=True)
class Invalid:
    """Code the rule must flag, with each expected finding marked ``# expect: CODE``.

    ``fixed`` is the code after ``walint fix --unsafe-fixes``, for examples whose
    findings carry a fix (Fixit's ``expected_replacement``).
    """

    code: str
    fixed: Optional[str] = None


@dataclass(frozen=True)
class Report:
    """A rule's raw finding: the node to point at and what to say."""

    node: cst.CSTNode
    message: str
    fix: Optional[FixPlan] = None
    # Why there is no fix, when a user would expect one; shown by `walint fix`.
    no_fix_reason: Optional[str] = None


class Rule:
    """A code users select and read about: its identity from ``spec``, its docs from the
    docstring, and ``VALID``/``INVALID`` examples that are its tests and its fix availability.

    How its findings are made is the subclass's: a :class:`ModelRule` checks each parsed
    module; WAL000 (:mod:`walint.rules.parse_error`) is reported by the engine when a parse
    fails; WAL100 (:mod:`walint.rules.unused_suppression`) looks at the suppression comments
    once the other rules have reported. ``code``, ``name``, ``tokens`` and
    ``default_enabled`` are the spec's, copied onto the class.
    """

    spec: ClassVar[RuleSpec]
    code: ClassVar[str]
    name: ClassVar[str]
    tokens: ClassVar[Tuple[bytes, ...]]
    default_enabled: ClassVar[bool]
    VALID: ClassVar[Sequence[Valid]] = ()
    INVALID: ClassVar[Sequence[Invalid]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("spec")
        if spec is not None:
            cls.code, cls.name, cls.tokens, cls.default_enabled = spec.code, spec.name, spec.tokens, spec.default_enabled

    @classmethod
    def fix_availability(cls) -> str:
        """Whether `walint fix` can repair what this rule finds: ALWAYS, SOMETIMES or NEVER
        (ruff's FixAvailability). Derived from the examples, as Fixit derives AUTOFIX:
        every INVALID example of this rule carries its `fixed` code, some do, or none."""
        marked = [example for example in cls.INVALID if f"expect: {cls.code}" in example.code]
        fixed = [example for example in marked if example.fixed is not None]
        if not fixed:
            return NEVER
        return ALWAYS if len(fixed) == len(marked) else SOMETIMES

    @classmethod
    def fixable(cls) -> bool:
        return cls.fix_availability() != NEVER

    @classmethod
    def documentation(cls) -> str:
        """The rule's docs in ruff's shape, from its docstring."""
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        """The first sentence of the "What it does" section."""
        doc = cls.documentation()
        _, _, rest = doc.partition("## What it does")
        text = " ".join(rest.strip().split("\n\n", 1)[0].split())
        # The first sentence only; one that introduces a list ends there, with a full stop.
        sentence = re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]
        if sentence.endswith(":"):
            sentence = sentence[:-1].rstrip() + "."
        return sentence or cls.name


class ModelRule(Rule):
    """A rule that reports what it finds in the model of one parsed module (``check``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, model: "ModuleModel") -> Iterator[Report]:
        raise NotImplementedError

    @property
    def helper(self) -> HelperSpec:
        """Where this run's fixes import the safe helper from (``helper`` setting)."""
        return HelperSpec.from_setting(self.settings.helper)
