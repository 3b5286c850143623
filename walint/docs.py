"""Rule documentation, rendered from each rule's docstring: the one source for
``walint explain``, ``walint rules``, SARIF rule metadata and the pages under ``rules/``.

Regenerate the pages after changing a docstring (a test fails while one is stale)::

    python -m walint.docs            # writes rules/WAL000.md ... in the current directory
    python -m walint.docs --check    # exits 1 and names the stale pages instead
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Type

from walint.report.context import RuleInfo
from walint.rules import ALL_RULES, Rule
from walint.rules.base import ALWAYS, SOMETIMES

DEFAULT_DIRECTORY = "rules"
# A page named for a rule code; other files in the directory are left alone.
_PAGE_RE = re.compile(r"^[A-Z]+[0-9]+\.md$")


def rule_info(rule: Type[Rule]) -> RuleInfo:
    return RuleInfo(
        code=rule.code,
        name=rule.name,
        summary=rule.summary(),
        explanation=rule.documentation(),
        fixable=rule.fixable(),
        default_enabled=rule.default_enabled,
    )


def rule_infos() -> Dict[str, RuleInfo]:
    return {rule.code: rule_info(rule) for rule in ALL_RULES}


def render_page(rule: Type[Rule]) -> str:
    """What ``walint explain CODE`` prints, and what ``rules/CODE.md`` holds."""
    fix = {ALWAYS: "Fix is always available.", SOMETIMES: "Fix is sometimes available."}.get(
        rule.fix_availability(), "Fix is not available."
    )
    default = "On by default." if rule.default_enabled else f"Off by default: select `{rule.code}` to turn it on."
    return f"# {rule.name} ({rule.code})\n\n{fix} {default}\n\n{rule.documentation()}\n"


def expected_pages() -> Dict[str, str]:
    return {f"{rule.code}.md": render_page(rule) for rule in ALL_RULES}


def stale_pages(directory: Path) -> List[str]:
    """Pages under ``directory`` that are missing, out of date, or for a rule that is gone."""
    expected = expected_pages()
    stale = [
        name
        for name, text in expected.items()
        if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != text
    ]
    stale += sorted(p.name for p in directory.glob("*.md") if _PAGE_RE.match(p.name) and p.name not in expected)
    return stale


def write_pages(directory: Path) -> List[str]:
    """Bring the pages under ``directory`` up to date; return the names written or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = stale_pages(directory)
    expected = expected_pages()
    for name in changed:
        if name in expected:
            (directory / name).write_text(expected[name], encoding="utf-8", newline="\n")
        else:
            (directory / name).unlink()
    return changed


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m walint.docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", nargs="?", default=DEFAULT_DIRECTORY, type=Path)
    parser.add_argument("--check", action="store_true", help="report stale pages and exit 1 instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages(args.directory)
        for name in stale:
            print(f"{args.directory / name}: stale (run `python -m walint.docs`)")
        return 1 if stale else 0
    for name in write_pages(args.directory):
        print(f"updated {args.directory / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
