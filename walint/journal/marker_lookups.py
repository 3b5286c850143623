"""The lookups a marker test goes through, as :class:`MarkerUses` follows them: an entry
of a table (here or in nested dicts another module defines), a column of a table of
rows, and the values of ``match`` cases whose bodies downgrade. A mixin of
:class:`walint.journal.marker_uses.MarkerUses`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from walint.flow.path_state import UNKNOWN, PathState, constant, encode_constant
from walint.journal.marker_shapes import answer_is, classifier_answers, entry_lookup, imported_entry, pattern_values
from walint.semantic.nodes import entry_of, entry_path
from walint.semantic.scopes import Scope
from walint.tree import own_nodes, preorder

if TYPE_CHECKING:
    from walint.journal.model import ModuleModel


class MarkerLookups:
    """Lookups of marker collections, asked of a :class:`MarkerUses` (mixed in)."""

    def _operand_column(self, rows: cst.BaseExpression, index: int, polarity: int, scope: Scope, depth: int) -> None:
        found = self.model.collection_literal(rows, scope)
        if found is None or not isinstance(found[0], (cst.Tuple, cst.List, cst.Set)):
            return
        for element in found[0].elements:
            row = element.value
            if isinstance(row, (cst.Tuple, cst.List)) and len(row.elements) > index:
                needle = row.elements[index].value
                self.table_needles.add(id(needle))
                self._operand(needle, polarity, found[1], depth + 1)

    def _entry(self, node: cst.BaseExpression, polarity: int, scope: Scope, depth: int) -> None:
        """``WAL_REFUSALS["bench"]``: the collection that entry of the table holds, here or,
        for a table another module defines, handed to that module as ``WAL_REFUSALS['bench']``."""
        table, key = entry_lookup(node)  # type: ignore[misc]
        found = self.model.collection_literal(table, scope)
        if found is not None and isinstance(found[0], cst.Dict):
            value = entry_of(found[0], key)
            if value is not None:
                self._operand(value, polarity, found[1], depth + 1)
            if id(found[0]) in self.model.foreign_nodes:
                # `WAL_CFG["give_up_on"]`, `WAL_CFG = CONFIG["db"]["wal"]` of an imported
                # CONFIG: the defining module judges `CONFIG['db']['wal']['give_up_on']`.
                origin = imported_entry(self.model, table, scope)
                if origin:
                    self.imported.setdefault(entry_path(origin, key), set()).add(polarity)
        bindings, _ = self.model.bindings_of(table, scope)
        if any(b.kind == "import" for b in bindings) or (not bindings and isinstance(table, cst.Attribute)):
            origin = self.model.qualified_name(table, scope)
            if origin:
                self.imported.setdefault(entry_path(origin, key), set()).add(polarity)

    def _match_cases(self, model: "ModuleModel") -> None:
        """``match exc.sqlite_errorcode: case SQLITE_PROTOCOL | SQLITE_BUSY: <downgrade>``:
        the values of a case whose body downgrades are markers that decide it."""
        rollback = {id(site.node) for site in model.all_sites() if model.is_rollback_site(site)}
        if not rollback:
            return
        matches = [(node, unit.scope) for unit in model.hot_units for node in own_nodes(unit.node) if isinstance(node, cst.Match)]
        for node, where in matches:
            answers = classifier_answers(self.model, node.subject, where, needles=self.table_needles) if isinstance(node.subject, cst.Call) else []
            for case in node.cases:
                if not any(id(inner) in rollback for inner in preorder(case.body)):
                    continue
                if case.guard is not None:  # `case code if code in policy.codes:`
                    self._membership(case.guard, +1, where, 0)
                for value in pattern_values(case.pattern):
                    self._operand(value, +1, where, 0)
                    # `match classify(exc): case Status.UNSUPPORTED:`: the tests that answer it.
                    wanted = constant(value, PathState(False))
                    for test, answer, scope in answers if wanted is not UNKNOWN else ():
                        matches = answer_is(answer, wanted)
                        if matches is not None:
                            self._membership(test, +1 if matches else -1, scope, 1)
                    if wanted is not UNKNOWN and not answers:  # `match classify(exc):`, imported
                        self._note_imported_comparison(node.subject, wanted, +1, where)

    def _note_imported_comparison(self, subject: cst.BaseExpression, wanted: object, polarity: int, scope: Scope) -> None:
        """``classify(exc) is Verdict.NO_WAL`` with ``classify`` imported: the defining
        module judges its classifier's branches by this constant (ModuleSummary)."""
        if isinstance(subject, cst.NamedExpr):  # `(category := classify(exc)) == "unsupported"`
            subject = subject.value
        if isinstance(subject, (cst.Name, cst.Attribute)):
            bindings, _ = self.model.bindings_of(subject, scope)
            if len(bindings) == 1 and bindings[0].kind == "value" and bindings[0].scope is not None:
                subject, scope = bindings[0].value, bindings[0].scope  # type: ignore[assignment]
        if isinstance(subject, cst.Call) and isinstance(subject.func, (cst.Name, cst.Attribute)):
            origin = self.model.qualified_name(subject.func, scope)
            if origin and (wanted is None or isinstance(wanted, (str, int, bool))):
                self.compared.add((origin, encode_constant(wanted), polarity))
