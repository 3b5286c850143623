"""What calling a project function, a lambda or a ``functools.partial`` does to the
journal mode: the function's facts, with the pragmas it builds from its parameters
filled in with the caller's arguments. A mixin of :class:`walint.journal.model.ModuleModel`."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import libcst as cst

from walint.constants import HOLE, Resolution, StringFolder, loop_hole_parts, parameters_in, substitute
from walint.journal.loops import item_part
from walint.semantic.scopes import Scope
from walint.semantic.nodes import dotted_name, iter_subexpressions
from walint.sql import ModeEffect, callee_name, effect_of_sql, sql_texts
from walint.summary import FunctionFacts

def merged_effects(effects: Sequence[ModeEffect]) -> Optional[ModeEffect]:
    if not effects:
        return None
    return ModeEffect(tuple(dict.fromkeys(m for e in effects for m in e.sets)), any(e.reads for e in effects))


def fills_only(text: str, params: Sequence[str]) -> bool:
    """``text`` has placeholders, and each stands for one of ``params``."""
    holes = parameters_in(text)
    return bool(holes) and HOLE not in text and all(_parameter_of_hole(hole) in params for hole in holes)


def _parameter_of_hole(hole: str) -> str:
    """The parameter a placeholder stands for, or whose items it stands for."""
    parts = loop_hole_parts(hole)
    return hole if parts is None else parts[0]


def call_arguments(call: cst.Call, callee: FunctionFacts) -> Dict[str, cst.BaseExpression]:
    """What ``call`` passes for each parameter of ``callee`` it names or reaches by
    position (``*args`` and ``**kwargs`` are not followed)."""
    params = list(callee.params)
    if callee.is_method and params and isinstance(call.func, cst.Attribute):
        params = params[1:]  # bound `self`/`cls`
    arguments: Dict[str, cst.BaseExpression] = {}
    index = 0
    for arg in call.args:
        if arg.star:
            continue
        if arg.keyword is not None:
            arguments[arg.keyword.value] = arg.value
        elif index < len(params):
            arguments[params[index]] = arg.value
            index += 1
    return arguments


# Pragmas a helper builds from its parameters, at most, in what callers learn of it.
MAX_TEMPLATES = 8

# Functions that run the callable they are handed, with the arguments after it, on a
# worker thread or in an executor, by the callable's place among their positional
# arguments: `await asyncio.to_thread(conn.execute, sql)` runs `conn.execute(sql)`, and so
# do anyio's and trio's `to_thread.run_sync`, Starlette's `run_in_threadpool`, an
# executor's `submit` and a loop's `run_in_executor(executor, fn, *args)`.
_RUNS_WHAT_IT_IS_HANDED = {"to_thread": 0, "run_sync": 0, "run_in_threadpool": 0, "submit": 0, "run_in_executor": 1}


def handed_call(call: cst.Call) -> Optional[cst.Call]:
    """The call ``asyncio.to_thread(fn, *args)`` (or a kin) makes: ``fn(*args)``."""
    runner = callee_name(call)
    position = _RUNS_WHAT_IT_IS_HANDED.get(runner)
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    if position is None or len(positional) <= position:
        return None
    handed = positional[position].value
    if not isinstance(handed, (cst.Name, cst.Attribute)):
        return None
    skipped = {id(arg) for arg in positional[: position + 1]}
    # `run_in_executor` takes no keywords; the others hand theirs on.
    rest = [arg for arg in call.args if id(arg) not in skipped and (runner != "run_in_executor" or arg.keyword is None)]
    try:
        return cst.Call(handed, rest)
    except cst.CSTValidationError:
        return None


class CallEffects:
    """Effects of calls into project code, asked of a :class:`ModuleModel`."""

    def _call_effect(
        self, call: cst.Call, scope: Scope, depth: int = 0, folder: Optional[StringFolder] = None
    ) -> Optional[ModeEffect]:
        """The effect of calling a project function, a lambda or a ``functools.partial``
        (``folder``: what the arguments hold, when a loop's iteration decides it)."""
        callee = self.callee(call, scope)
        if callee is None:
            return self._bound_callable_effect(call, scope, depth) if depth < 3 else None
        templated = self._templated_effect(call, callee, scope, folder or self.folder)
        sets = callee.downgrades + (templated.sets if templated is not None else ())
        if sets or callee.probe or templated is not None:
            return ModeEffect(tuple(dict.fromkeys(sets)), callee.probe or (templated is not None and templated.reads))
        return None

    def _bound_callable_effect(self, call: cst.Call, scope: Scope, depth: int) -> Optional[ModeEffect]:
        """``fallback = lambda c: c.execute(...)`` or ``functools.partial(conn.execute,
        "PRAGMA journal_mode=DELETE")`` bound to a name, then called: what that call runs."""
        effects: List[ModeEffect] = []
        table = [(value, where) for value, where in self.dispatch_candidates(call, scope) if isinstance(value, cst.Lambda)]
        if table:
            # `QUIRKS.get(sys.platform)(conn)` over lambdas: as for a table of functions,
            # any may run, unless one of them is the WAL strategy the key chooses.
            for value, where in table:
                effects.extend(self._lambda_effects(value, where, call, scope, depth))  # type: ignore[arg-type]
            merged = merged_effects(effects)
            return None if merged is not None and merged.sets_wal else merged
        if not isinstance(call.func, cst.Name):
            return None
        bindings, _ = self.lookup(call.func.value, scope)
        for binding in bindings:
            value, where = binding.value, binding.scope
            if binding.kind != "value" or where is None:
                continue
            if isinstance(value, cst.Lambda):
                effects.extend(self._lambda_effects(value, where, call, scope, depth))
            elif isinstance(value, cst.Call) and dotted_name(value.func).rsplit(".", 1)[-1] == "partial" and value.args:
                # The call the partial stands for: its bound arguments, then this call's.
                arguments = [*value.args[1:], *call.args]
                positional = [a for a in arguments if a.keyword is None and not a.star]
                try:
                    bound = cst.Call(value.args[0].value, positional + [a for a in arguments if a not in positional])
                except cst.CSTValidationError:  # `*args` after keywords: nothing to tell
                    continue
                effect = self.direct_effect(bound, where) or self._call_effect(bound, where, depth + 1)
                if effect is not None:
                    effects.append(effect)
        return merged_effects(effects)

    def _lambda_effects(
        self, function: cst.Lambda, where: Scope, call: cst.Call, scope: Scope, depth: int
    ) -> List[ModeEffect]:
        """What calling a lambda runs: its calls, with the arguments ``call`` passes in
        place of its parameters (``set_mode = lambda c, m: c.execute("PRAGMA journal_mode=" + m)``)."""
        params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
        holes = {name: Resolution(parameter=name) for name in params}

        def resolve(expr: cst.BaseExpression, scope: object) -> Optional[Resolution]:
            if isinstance(expr, cst.Name) and expr.value in holes:
                return holes[expr.value]
            return self.resolve(expr, scope)

        folder = StringFolder(resolve)
        effects: List[ModeEffect] = []
        for inner in iter_subexpressions(function.body, limit=400):
            if not isinstance(inner, cst.Call):
                continue
            templates = [text for texts in sql_texts(inner, folder, where) for text in texts if fills_only(text, params)]
            if templates:
                as_function = FunctionFacts("<lambda>", tuple(params), sql_templates=tuple(templates[:MAX_TEMPLATES]))
                effect = self._templated_effect(call, as_function, scope, self.folder)
            else:
                effect = self.direct_effect(inner, where) or self._call_effect(inner, where, depth + 1)
            if effect is not None:
                effects.append(effect)
        return effects

    def _templated_effect(
        self, call: cst.Call, callee: FunctionFacts, scope: Scope, folder: StringFolder
    ) -> Optional[ModeEffect]:
        """What a call of a helper that runs pragmas built from its parameters sets: the
        helper's templates with the arguments (or the defaults) this call passes."""
        if not callee.sql_templates:
            return None
        passed: Dict[str, Tuple[str, ...]] = {}
        arguments = call_arguments(call, callee)
        for parameter, argument in arguments.items():
            passed[parameter] = folder.values(argument, scope)
        if not any(arg.star for arg in call.args):  # `fallback(conn)`: the defaults decide
            for parameter, values in callee.defaults:
                passed.setdefault(parameter, values)
        texts = [
            text
            for template in callee.sql_templates
            for filled in self._loop_rows_filled(template, arguments, scope, folder)
            for text in substitute(template, {**passed, **filled})
        ]
        return effect_of_sql(texts)

    def _loop_rows_filled(
        self, template: str, arguments: Dict[str, cst.BaseExpression], scope: Scope, folder: StringFolder
    ) -> List[Dict[str, Tuple[str, ...]]]:
        """For a pragma the helper builds in a loop over a parameter (``for key, value in
        steps: execute("PRAGMA %s=%s" % (key, value))``), what each hole holds on each item
        of the collection this call passes: one mapping per item, so a key is only ever
        paired with its own value. One empty mapping when the template has no such hole."""
        holes = [(hole, loop_hole_parts(hole)) for hole in parameters_in(template)]
        looped = {parts[:2] for _, parts in holes if parts is not None}
        if len(looped) != 1:
            return [{}]  # none, or loops over two collections: their holes stay unknown
        parameter, view = looped.pop()
        argument = arguments.get(parameter)
        if argument is None:
            return [{}]
        iterable = argument if view == "iter" else cst.Call(cst.Attribute(argument, cst.Name(view)))
        items = self._iterated_items(iterable, scope)
        if items is None:
            return [{}]
        rows: List[Dict[str, Tuple[str, ...]]] = []
        for item, where in items:
            row: Dict[str, Tuple[str, ...]] = {}
            for hole, parts in holes:
                if parts is not None:
                    part = item_part(item, parts[2])
                    row[hole] = folder.values(part, where) if part is not None else (HOLE,)
            rows.append(row)
        return rows or [{}]
