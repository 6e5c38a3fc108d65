"""The documented limits of the .geno tools, in one place, and the checks that use them.

Every input to the language API and the CLI ends in success or a GenoError: these limits
turn what would be a hang, a crash or an absurd allocation (a 7 GB cell, a 160 GB network)
into a diagnostic with its place.  They are generous: every shipped genotype, the README's
examples and the paper's settings are far inside them.  docs/language.md lists them.
"""

from __future__ import annotations

from typing import Iterable

from ..errors import Diagnostic
from .ir import REQUIRED_CELLS, CellPair, CellType, Network, OpCall, Program
from .plan import (level_cells, needs_normal_cell, resolution_widths, shape_problems,
                   stage_plan)

MAX_FILE_BYTES = 1 << 20          # E004: one .geno file (or loads text), in bytes
MAX_INT_DIGITS = 18               # E006: digits of an integer literal (below 2**63)
MAX_NODES = 64                    # E058: intermediate nodes of one cell (`nodes M` or `node` lines)
MAX_OPS_PER_SET = 64              # E059: entries of one op set or inline candidate list
MAX_IMPORT_DEPTH = 32             # E033: files on one import chain
MAX_IMPORTS = 256                 # E033: files one program reads
MAX_KERNEL = 31                   # E015: op argument k
MAX_DILATION = 64                 # E015: op argument dilation
MAX_REDUCTION = 4096              # E015: op argument reduction
NETWORK_LIMITS = {                # E062: network entries
    "C": 4096,
    "depth": 10,
    "in_channels": 1024,
    "classes": 1024,
    "stem_multiplier": 64,
}
MAX_WIDTH = NETWORK_LIMITS["C"]   # E062: node channels of any level (widths, growth)
MAX_CELLS_PER_LEVEL = 16          # E062: full_res_cells and each cells_per_level count
MAX_NETWORK_OPS = 10_000          # E062: ops one network builds (edges × candidates × cells)
MAX_PARAMETERS = 500_000_000      # E062: estimated parameters of one network (2 GB of float32)

_ARG_LIMITS = {"k": MAX_KERNEL, "dilation": MAX_DILATION, "reduction": MAX_REDUCTION}


def too_many(what: str, count: int, limit: int) -> str:
    return f"{what}: {count:,} (the limit is {limit:,})"


# ---- op arguments -------------------------------------------------------------------------
def _op_calls(program: Program) -> Iterable[OpCall]:
    for opset in program.opsets.values():
        yield from opset.ops
    for owner in list(program.genotypes.values()) + list(program.spaces.values()):
        for cell in owner.cells.values():
            for _, _, edge in cell.op_edges():
                if edge.opset is None:  # op set candidates are checked with the op set
                    yield from edge.ops


def _check_args(op: OpCall) -> Iterable[Diagnostic]:
    for key, value in op.args:
        limit = _ARG_LIMITS.get(key)
        if limit is not None and isinstance(value, int) and value > limit:
            yield Diagnostic("E015", f"'{key}' = {value} is above the limit of {limit}",
                             span=op.arg_span(key), hint=f"{key} is at most {limit}")


# ---- networks: entries and a parameter estimate ---------------------------------------------
def _edge_bound(op: OpCall, c: int, dims: int = 2) -> int:
    """An upper bound of the parameters of ``op`` on ``c`` channels (any op of the registry:
    a k×k (k×k×k in 3D) conv, a depthwise one, a 1×1 conv, squeeze-and-excitation, norms)."""
    k = op.arg_dict.get("k", 3)
    k = k if isinstance(k, int) and not isinstance(k, bool) and k > 0 else 3
    window = k ** dims
    return c * c * (window + 2) + c * (window + 4)


def estimate_parameters(settings, cells: CellPair) -> int:
    """An upper bound of the parameters of the network, over its stage plan."""
    if not _plannable(settings, cells):
        return 0  # validate reports why
    plan = stage_plan(settings, cells)
    dims = settings.dims
    total = sum(s.kernel ** dims * s.in_channels * s.out_channels + 2 * s.out_channels
                for s in plan.stems)
    for stage in plan.cells:
        c = stage.C
        total += (stage.c_prev_prev + stage.c_prev) * c + 4 * c  # the two 1×1 preprocessings
        total += sum(_edge_bound(op, c, dims) for _, _, edge in cells.cells[stage.type].op_edges()
                     for op in edge.ops)
    return total + plan.head.in_channels * plan.head.out_channels


def _plannable(settings, cells: CellPair) -> bool:
    """Whether the stage plan can be made (else validate reports what is missing)."""
    return (all(t in cells.cells for t in REQUIRED_CELLS) and not shape_problems(settings)
            and (CellType.NORMAL in cells.cells or not needs_normal_cell(settings)))


def _shape_limits(net: Network) -> Iterable[Diagnostic]:
    """The U's entries above their limits: counts of cells per level, widths of levels."""
    settings = net.settings
    counts = [("full_res_cells", settings.full_res_cells), *(
        ("cells_per_level", n) for n in level_cells(settings))]
    for key, n in counts:
        if n > MAX_CELLS_PER_LEVEL:
            yield Diagnostic("E062", f"{key}: {n} cells at one level is above the limit of "
                             f"{MAX_CELLS_PER_LEVEL}", span=net.entry_span(key),
                             hint=f"use at most {MAX_CELLS_PER_LEVEL}")
            break
    if shape_problems(settings):
        return
    widest = max(resolution_widths(settings))
    if widest > MAX_WIDTH:
        key = "widths" if settings.widths is not None else "growth" if settings.growth else "C"
        yield Diagnostic("E062", f"the widest level would have {widest:,} channels per node "
                         f"(the limit is {MAX_WIDTH:,})", span=net.entry_span(key),
                         hint="use smaller widths, a smaller growth or a smaller depth")


def count_ops(settings, cells: CellPair) -> int:
    """The ops the network builds: every candidate of every edge of every cell."""
    if not _plannable(settings, cells):
        return 0  # validate reports why
    per_cell = {t: sum(len(e.ops) for _, _, e in c.op_edges()) for t, c in cells.cells.items()}
    return sum(per_cell[stage.type] for stage in stage_plan(settings, cells).cells)


def _check_network(net: Network, program: Program) -> Iterable[Diagnostic]:
    settings = net.settings
    if settings is None:
        return
    over = False
    for key, limit in NETWORK_LIMITS.items():
        value = getattr(settings, key)
        if value is not None and value > limit:
            over = True
            yield Diagnostic("E062", f"{key} = {value} is above the limit of {limit}",
                             span=net.entry_span(key), hint=f"{key} is at most {limit}")
    if not over:
        shape = list(_shape_limits(net))
        yield from shape
        over = bool(shape)
    cells = program.cells_of(settings.cells)
    if over or cells is None:
        return
    ops = count_ops(settings, cells)
    if ops > MAX_NETWORK_OPS:
        yield Diagnostic(
            "E062", f"network '{net.name}' would build {ops:,} ops (the limit is "
            f"{MAX_NETWORK_OPS:,})", span=net.span,
            hint="use fewer nodes, fewer candidates per edge or a smaller depth")
        return
    params = estimate_parameters(settings, cells)
    if params > MAX_PARAMETERS:
        yield Diagnostic(
            "E062", f"network '{net.name}' would have about {params:,} parameters (the limit "
            f"is {MAX_PARAMETERS:,})", span=net.span,
            hint="use a smaller C, depth, stem_multiplier or kernels")


def check_program(program: Program) -> list[Diagnostic]:
    """Op arguments and network entries above their limits (validate calls this)."""
    out = [d for op in _op_calls(program) for d in _check_args(op)]
    for net in program.networks.values():
        out.extend(_check_network(net, program))
    return out

