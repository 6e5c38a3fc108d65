"""The package's shape: dependencies point one way, modules stay small, the fast path has no torch.

The layer table below is the design: a module may import from its own unit or from a unit on
a lower layer, never from a higher one, and units never import each other in a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "genodsl"

# bottom → top; a unit is a top-level module or sub-package of genodsl
LAYERS: list[set[str]] = [
    {"errors", "files", "version"},       # shared error shape, atomic file writes, version
    {"config"},                           # YAML + dotted overrides + the runtime section
    {"ops"},                              # the op registry (metadata) and op builders
    {"lang"},                             # .geno text → AST → IR → diagnostics → text
    {"render", "compile", "baselines"},   # IR → pictures; IR → nn.Module
    {"runtime"},                          # device, precision, seeding, processes
    {"data"},                             # readers, layouts, datasets
    {"train"},                            # losses, metrics, the training engine
    {"search"},                           # DARTS, darts2, ProxylessNAS
    {"runs"},                             # RunConfig, run folders, saved models of runs
    {"export", "api"},                    # serving formats; the Python API
    {"cli", "lsp", "__main__"},           # the command line and the language server
]
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}
MAX_LINES = 400
HEAVY = ("torch", "monai", "matplotlib")


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "genodsl":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every genodsl module that ``path`` imports (anywhere in the file), with its line."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module:
                found.append((target, node.lineno))
            if not node.module:  # `from .. import x`: x is a submodule, or a name of the façade
                found += [(f"{target}.{a.name}" if (PACKAGE.parent / target.replace(".", "/")
                                                     / a.name).with_suffix("").exists()
                           or (PACKAGE.parent / target.replace(".", "/") / f"{a.name}.py").exists()
                           else target, node.lineno) for a in node.names]
    return [(t, line) for t, line in found if t.startswith("genodsl")]


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_unit_has_a_layer():
    units = {_unit(_module_name(p)) for p in _sources()} - {"__init__"}
    assert units <= set(LAYER), f"place these in LAYERS: {sorted(units - set(LAYER))}"


def test_no_module_imports_from_a_higher_layer():
    upward = []
    for path in _sources():
        src = _unit(_module_name(path))
        if src == "__init__":  # the package façade re-exports the API
            continue
        for target, line in _imports(path):
            dst = _unit(target)
            if dst in (None, "__init__", src) or dst not in LAYER:
                continue
            if LAYER[dst] > LAYER[src]:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {src} → {dst}")
    assert not upward, "imports that point up:\n" + "\n".join(upward)


def test_only_the_top_layer_imports_the_package_facade():
    inward = []
    for path in _sources():
        src = _unit(_module_name(path))
        if src == "__init__" or LAYER[src] == len(LAYERS) - 1:
            continue
        inward += [f"{path.relative_to(ROOT)}:{line}" for target, line in _imports(path)
                   if target == "genodsl"]
    assert not inward, "import the module that defines the name, not genodsl:\n" + "\n".join(inward)


def test_units_form_no_cycle():
    graph = nx.DiGraph()
    for path in _sources():
        src = _unit(_module_name(path))
        for target, _ in _imports(path):
            dst = _unit(target)
            if src not in ("__init__", None) and dst not in ("__init__", None, src):
                graph.add_edge(src, dst)
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"units import each other in a circle: {cycles}"


def test_no_module_is_a_god_module():
    big = [f"{p.relative_to(ROOT)}: {n} lines" for p in _sources()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert not big, "split these modules:\n" + "\n".join(big)


def test_no_lazy_getattr_to_dodge_cycles():
    dodgers = [str(p.relative_to(ROOT)) for p in _sources()
               if "def __getattr__(" in p.read_text(encoding="utf-8")]
    assert not dodgers, f"module-level __getattr__ in {dodgers}"


FAST_PATH = {
    "import": "import genodsl",
    "check": "from genodsl.cli import main; main(['check', 'genotypes/nasunet.geno'])",
    "fmt": "from genodsl.cli import main; main(['fmt', '--check', 'genotypes/'])",
    "render a cell": ("from genodsl.cli import main; main(['render', 'genotypes/nasunet.geno', "
                      "'--cell', 'NASUNET.down', '-o', '{tmp}/down.dot'])"),
    "diff": ("from genodsl.cli import main; main(['diff', 'genotypes/nasunet.geno:NASUNET', "
             "'genotypes/nasunet.geno:NAS_UNET_V2', '-o', '{tmp}/diff.dot'])"),
}


@pytest.mark.parametrize("what", sorted(FAST_PATH))
def test_the_language_tools_never_import_torch(what, tmp_path):
    code = FAST_PATH[what].format(tmp=tmp_path)
    probe = (f"import sys\ntry:\n    {code}\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, encoding="utf-8", timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", f"{what} imported {out.stdout}"
