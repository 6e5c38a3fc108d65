"""Regenerate the golden error messages: ``python tests/lang/regen_golden.py [NAME ...]``.

For every ``tests/lang/golden/bad/NAME.geno`` (files starting with ``_`` are helpers, e.g.
the other half of an import cycle) this writes ``NAME.expected``: the full ``str(GenoError)``
that ``genodsl.lang.loader.load("NAME.geno")`` raises, loaded from inside the golden folder so the
paths in the messages are relative.  A file that loads cleanly must have warnings; then the
expected text is those warnings, rendered.

The messages are a product feature: read every diff this script produces before keeping it
(``--check`` prints the cases whose message changed and writes nothing).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden" / "bad"


def cases() -> list[str]:
    """The golden case names (sorted), helpers excluded."""
    return sorted(p.stem for p in GOLDEN.glob("*.geno") if not p.name.startswith("_"))


@contextmanager
def _inside(folder: Path):
    old = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)


def render(name: str) -> str:
    """The message ``load`` gives for case ``name`` (its warnings when it loads)."""
    from genodsl.errors import GenoError, render_all
    from genodsl.lang.loader import load

    with _inside(GOLDEN):
        try:
            program = load(f"{name}.geno")
        except GenoError as exc:
            return str(exc) + "\n"
    if not program.warnings:
        raise SystemExit(f"{name}.geno loads without errors or warnings: not a bad case")
    return render_all(program.warnings) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    names = [a for a in argv if not a.startswith("--")] or cases()
    changed = 0
    for name in names:
        text = render(name)
        target = GOLDEN / f"{name}.expected"
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old == text:
            continue
        changed += 1
        print(f"==== {name} {'(new)' if old is None else '(changed)'}\n{text}")
        if not check:
            target.write_text(text, encoding="utf-8")
    print(f"{changed} of {len(names)} case(s) {'differ' if check else 'written'}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    raise SystemExit(main(sys.argv[1:]))
