#!/usr/bin/env python
"""Wall time of the .geno command-line tools against a bare ``python -c "import lark"``.

    python bench/cli_latency.py                     # the working tree
    python bench/cli_latency.py --rev 49563b2       # a git revision and the working tree

Commands (each a fresh process, run from its tree with PYTHONPATH pointing there):
``import lark``, ``genodsl check genotypes/*.geno``, ``genodsl fmt --check genotypes/`` and
``genodsl compile genotypes/nasunet.geno --network nasunet_promise12`` (which may import
torch). A revision is checked out with ``git worktree add`` in a temporary folder (removed
afterwards). Repeats alternate between commands and trees, so a busy machine slows them
alike; the table gives medians, and the ratio of check and fmt to the bare ``import lark``
process (target: at most 3×).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 3.0


def commands(tree: Path, with_compile: bool) -> dict[str, list[str]]:
    py = sys.executable
    genotypes = sorted(str(p.relative_to(tree)) for p in (tree / "genotypes").glob("*.geno"))
    out = {
        "import lark": [py, "-c", "import lark"],
        "check genotypes/*.geno": [py, "-m", "genodsl", "check", *genotypes],
        "fmt --check genotypes/": [py, "-m", "genodsl", "fmt", "--check", "genotypes/"],
    }
    if with_compile:
        out["compile nasunet_promise12"] = [py, "-m", "genodsl", "compile",
                                            "genotypes/nasunet.geno", "--network",
                                            "nasunet_promise12"]
    return out


def run_once(argv: list[str], tree: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True,
                          encoding="utf-8", errors="replace")
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):  # fmt --check exits 1 when a file would change
        raise SystemExit(f"{' '.join(argv[1:])} failed in {tree} (exit {done.returncode}):\n"
                         f"{done.stderr[-2000:]}")
    return took


def measure(trees: dict[str, Path], repeats: int, with_compile: bool) -> dict:
    cmds = {label: commands(tree, with_compile) for label, tree in trees.items()}
    times: dict[tuple[str, str], list[float]] = {}
    for label, tree in trees.items():  # warm the disk cache and .pyc files once
        for argv in cmds[label].values():
            run_once(argv, tree)
    for r in range(repeats):
        for name in cmds[next(iter(trees))]:
            order = list(trees.items()) if r % 2 == 0 else list(trees.items())[::-1]
            for label, tree in order:
                took = run_once(cmds[label][name], tree)
                times.setdefault((label, name), []).append(took)
    return {key: statistics.median(v) for key, v in times.items()}


def table(medians: dict, labels: list[str], names: list[str]) -> str:
    head = "| command | " + " | ".join(f"{lab} (s) | × import lark" for lab in labels) + " |"
    rule = "| --- |" + " --- | --- |" * len(labels)
    rows = [head, rule]
    for name in names:
        cells = []
        for lab in labels:
            t = medians[(lab, name)]
            ratio = t / medians[(lab, "import lark")]
            cells.append(f"{t:.3f} | {ratio:.1f}×")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", help="also time this git revision (e.g. 49563b2)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-compile", action="store_true", help="skip genodsl compile")
    args = ap.parse_args()
    trees = {"working tree": ROOT}
    with tempfile.TemporaryDirectory() as tmp:
        if args.rev:
            wt = Path(tmp) / "rev"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                            str(wt), args.rev], check=True)
            trees = {args.rev: wt, "working tree": ROOT}
        try:
            medians = measure(trees, args.repeats, not args.no_compile)
        finally:
            if args.rev:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                str(trees[args.rev])], check=False)
    names = list(commands(ROOT, not args.no_compile))
    print(f"medians of {args.repeats} alternating runs, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    print(table(medians, list(trees), names))
    for lab in trees:
        worst = max(medians[(lab, n)] / medians[(lab, "import lark")] for n in names[1:3])
        verdict = "meets" if worst <= TARGET else "misses"
        print(f"{lab}: check and fmt take at most {worst:.1f}× a bare `import lark` "
              f"({verdict} the ≤ {TARGET:.0f}× target)")


if __name__ == "__main__":
    main()
