"""Which functions of a module can matter to the journal mode ("hot" ones), worked out
once per module from what each definition spells and names, so that the rules and the
summary leave the rest of a large module alone.

A definition (a function, or a statement at module or class level) is hot when its text
holds a seed: a journal token or mode, SQLite's names, a header byte offset, a name of
the execute family or of a connect; or when it names something hot (a function, a
constant, an attribute a hot function assigns, a name another module's facts are about).
Every effect on the mode, every WAL attempt, probe, guard, connect and SQL wrapper needs
one of those, so a function that is not hot ("cold") has no site that sets or reads a
mode and calls nothing that does: its facts are what its returns, handlers and nested
wrappers say, and :meth:`Relevance.may_be_interesting` says when those can matter.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Dict, Iterable, List, Set

import libcst as cst

from walint.journal.connections import CONNECT_FUNCTIONS, ENGINE_CLASSES
from walint.journal.relevance_scan import RelevanceScan, Definition
from walint.journal.wrappers import EXIT_METHODS, is_context_manager
from walint.text import IDENTIFIER_RE
from walint.flow.conditions import statements_exit
from walint.semantic.nodes import dotted_name, small_statements

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel
    from walint.semantic.scopes import Unit

# Parts of identifiers that make a definition hot (lower-cased, anywhere in the name).
_NAME_PARTS = ("journal", "sqlite", "pragma", "operationalerror", "databaseerror")
# Words of identifiers (split at underscores and case changes) that make one hot.
_NAME_WORDS = frozenset({"wal", "ioerr"})
# The libraries that open databases, and what of theirs opens one (`create_engine`,
# `SqliteDatabase`; not `connect`, which sockets share): a module's import of them is hot,
# and so is each function naming what that import binds.
_OPENER_NAMES = frozenset(
    {name.split(".")[0] for name in CONNECT_FUNCTIONS | ENGINE_CLASSES}
    | {name.rsplit(".", 1)[-1] for name in CONNECT_FUNCTIONS if not name.endswith((".connect", ".Connection"))}
)
_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


def _hot_name(name: str) -> bool:
    lowered = name.lower()
    return (
        any(part in lowered for part in _NAME_PARTS)
        or name in _OPENER_NAMES
        or any(word.lower() in _NAME_WORDS for word in _WORD_RE.findall(name))
    )


class Relevance:
    """The hot functions of one module (see the module docstring)."""

    def __init__(self, model: "ModuleModel", scan: RelevanceScan, seed_names: Iterable[str]) -> None:
        self.model = model
        self._seed_names = set(seed_names)
        self._definitions = scan.definitions
        self._of_unit = scan.of_unit
        self._family = scan.family
        for definition in self._definitions:
            if definition.function in self._seed_names:
                definition.seeded = True  # a configured guard, or a name the project pass knows of
        self._spread()
        self.hot_units: List["Unit"] = [
            unit for unit in model.units if unit is model.module_unit or self._of_unit[id(unit.node)].hot
        ]
        self._hot_ids = {id(unit.node) for unit in self.hot_units}

    def is_hot(self, unit: "Unit") -> bool:
        return id(unit.node) in self._hot_ids

    # ----- the spread --------------------------------------------------------------

    def _spread(self) -> None:
        """Mark the seeded definitions hot, then whatever names a hot one's names, until
        nothing changes; a function inside a hot definition, or holding a hot one, is hot."""
        naming: Dict[object, List[Definition]] = {}  # a name, or (class family, attribute)
        inside: Dict[int, List[Definition]] = {}
        hot_name: Dict[str, bool] = {}
        queue: List[Definition] = []

        def mark(definition: Definition) -> None:
            if not definition.hot:
                definition.hot = True
                queue.append(definition)

        def seeds(names: Iterable[str]) -> bool:
            for name in names:
                seeded = hot_name.get(name)
                if seeded is None:
                    seeded = hot_name[name] = name in self._seed_names or _hot_name(name)
                if seeded:
                    return True
            return False

        for definition in self._definitions:
            if definition.enclosing is not None:
                inside.setdefault(id(definition.enclosing), []).append(definition)
            for name in definition.refs:
                naming.setdefault(name, []).append(definition)
            if definition.owner is not None:
                family = self._family(definition.owner)
                for name in definition.own_refs:
                    naming.setdefault((family, name), []).append(definition)
            if definition.seeded or seeds(definition.refs) or seeds(definition.own_refs):
                definition.seeded = True
                mark(definition)
        spread: Set[object] = set()
        while queue:
            definition = queue.pop()
            if definition.enclosing is not None:
                mark(definition.enclosing)
            for nested in inside.get(id(definition), ()):
                mark(nested)
            keys: List[object] = list(definition.binds)
            if definition.owner is not None:
                family = self._family(definition.owner)
                keys.extend((family, name) for name in definition.own_binds)
            for key in keys:
                if key not in spread:
                    spread.add(key)
                    for other in naming.get(key, ()):
                        mark(other)

    # ----- what a cold function can still tell -------------------------------------

    def may_be_interesting(self, unit: "Unit") -> bool:
        """Can a cold function's facts matter to an importer? It may never return (it
        raises), test membership in a parameter (a predicate over the caller's markers),
        or catch the errors of what it is given to run: a function defined inside it (a
        decorator's wrapper), ``fn(*args)`` in a ``try``, a context manager's ``yield``."""
        node = unit.node
        definition = self._of_unit.get(id(node))
        if not isinstance(node, cst.FunctionDef) or definition is None or definition.tests_a_parameter:
            return True
        if node.name.value in EXIT_METHODS:
            return True  # a context manager's exit may swallow the errors of its body
        if definition.returns and (definition.defines or definition.holds_a_mode):
            return True  # a decorator's wrapper, or a rollback mode it may answer
        if definition.catches and (isinstance(node.params.star_arg, cst.Param) or is_context_manager(node)):
            return True
        annotation = node.returns.annotation if node.returns is not None else None
        if annotation is not None and dotted_name(annotation).rsplit(".", 1)[-1] in ("NoReturn", "Never"):
            return True
        return not definition.returns and statements_exit(small_statements(node.body))


def names_in_keys(keys: Iterable[object]) -> Set[str]:
    """The identifiers of what the project pass tells a module about (``.store.Store.reset``
    gives ``store``, ``Store`` and ``reset``), and of the names its importers' tests use:
    a definition naming one of them is hot."""
    found: Set[str] = set()
    for key in keys:
        if isinstance(key, str):
            found.update(IDENTIFIER_RE.findall(key))
        elif isinstance(key, tuple):
            found |= names_in_keys(key)
    return found
