"""The canonical printer: AST → text (``genodsl fmt``) and IR → AST (for ``dumps``).

``parse(format_module(m)) == m`` for every module: comments are kept, spans ignored.
"""

from __future__ import annotations

from . import ast
from .ir import (Cell, CellPair, CellType, Genotype, Network, NodeKind, OpCall, OpSet, Program,
                 SearchSpace)

INDENT = "  "
WIDTH = 88


def format_value(v: ast.Value) -> str:
    if isinstance(v, ast.Name):
        return v.text
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, tuple):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    return repr(v) if isinstance(v, float) else str(v)


def format_op(op: ast.OpRef) -> str:
    if not op.args:
        return op.name
    return f"{op.name}(" + ", ".join(f"{a.name}={format_value(a.value)}" for a in op.args) + ")"


def _op_list(ops: tuple[ast.OpRef, ...], prefix: str, indent: str) -> list[str]:
    one_line = prefix + "[" + ", ".join(format_op(o) for o in ops) + "]"
    if len(indent + one_line) <= WIDTH:
        return [one_line]
    return [prefix + "["] + [indent + INDENT + format_op(o) + "," for o in ops] + ["]"]


def _stmt_text(stmt: ast.Stmt, indent: str) -> list[str]:
    """The lines of one non-block statement (without comments)."""
    if isinstance(stmt, ast.ImportStmt):
        return [f'import "{stmt.path}"']
    if isinstance(stmt, ast.OpSetDecl):
        return _op_list(stmt.ops, f"opset {stmt.name.text} = ", indent)
    if isinstance(stmt, ast.KeepStmt):
        return [f"keep {stmt.k}"]
    if isinstance(stmt, ast.NodesStmt):
        return [f"nodes {stmt.count}"]
    if isinstance(stmt, ast.InputStmt):
        return ["input " + ", ".join(n.text for n in stmt.names)]
    if isinstance(stmt, ast.NodeStmt):
        edges = []
        for e in stmt.edges:
            args = "".join(f", {a.name}={format_value(a.value)}" for a in e.op.args)
            edges.append(f"{e.op.name}({e.source.text}{args})")
        return [f"node {stmt.name.text} = " + " + ".join(edges)]
    if isinstance(stmt, ast.OutputStmt):
        return ["output concat(" + ", ".join(n.text for n in stmt.names) + ")"]
    if isinstance(stmt, ast.UseStmt):
        prefix = f"from {stmt.source.text} use "
        if stmt.opset is not None:
            return [prefix + stmt.opset.text]
        return _op_list(stmt.ops or (), prefix, indent)
    raise TypeError(f"cannot print {type(stmt).__name__}")  # pragma: no cover - a bug


def _block_header(stmt: ast.Stmt) -> str:
    if isinstance(stmt, ast.GenotypeDecl):
        return f"genotype {stmt.name.text} {{"
    if isinstance(stmt, ast.SpaceDecl):
        return f"space {stmt.name.text} {{"
    if isinstance(stmt, ast.NetworkDecl):
        return f"network {stmt.name.text} {{"
    return f"cell {stmt.kind.text} {{"  # CellDecl / SpaceCellDecl


def _emit(stmt: ast.Stmt, depth: int, out: list[str]) -> None:
    indent = INDENT * depth
    out.extend(indent + c if c else "" for c in stmt.leading)
    if isinstance(stmt, (ast.GenotypeDecl, ast.SpaceDecl, ast.CellDecl, ast.SpaceCellDecl,
                         ast.NetworkDecl)):
        first = indent + _block_header(stmt)
        out.append(first + (f"  {stmt.trailing}" if stmt.trailing else ""))
        if isinstance(stmt, ast.NetworkDecl):
            width = max((len(e.key.text) for e in stmt.body), default=0)
            for e in stmt.body:
                out.extend(indent + INDENT + c if c else "" for c in e.leading)
                line = f"{indent}{INDENT}{e.key.text.ljust(width)} = {format_value(e.value)}"
                out.append(line + (f"  {e.trailing}" if e.trailing else ""))
        else:
            for child in stmt.body:
                _emit(child, depth + 1, out)
        out.extend(indent + INDENT + c if c else "" for c in stmt.end_comments)
        out.append(indent + "}")
        return
    lines = _stmt_text(stmt, indent)
    # the first line and a closing "]" get the indent; the lines of a long op list have it
    lines = [indent + line if i == 0 or line.startswith("]") else line
             for i, line in enumerate(lines)]
    if stmt.trailing:
        lines[-1] += f"  {stmt.trailing}"
    out.extend(lines)


def format_module(module: ast.Module) -> str:
    out: list[str] = []
    prev: ast.Decl | None = None
    for item in module.items:
        if prev is not None and not (isinstance(prev, ast.ImportStmt)
                                     and isinstance(item, ast.ImportStmt) and not item.leading):
            out.append("")
        _emit(item, 0, out)
        prev = item
    if module.end_comments:
        if out:
            out.append("")
        out.extend(module.end_comments)
    return "\n".join(out) + "\n" if out else ""


# ---- IR → AST ----------------------------------------------------------------------------
def _ref(op: OpCall) -> ast.OpRef:
    return ast.OpRef(op.name, tuple(ast.Arg(k, v) for k, v in op.args))


def _names(names: list[str]) -> tuple[ast.Name, ...]:
    return tuple(ast.Name(n) for n in names)


def opset_to_ast(opset: OpSet) -> ast.OpSetDecl:
    return ast.OpSetDecl(ast.Name(opset.name), tuple(_ref(o) for o in opset.ops))


def _cell_body(cell: Cell) -> tuple[ast.Stmt, ...]:
    stmts: list[ast.Stmt] = [ast.InputStmt(_names(cell.inputs))]
    if not cell.search:
        for node in cell.nodes:
            edges = tuple(ast.Edge(_ref(e.op), ast.Name(src)) for src, e in cell.in_edges(node))
            stmts.append(ast.NodeStmt(ast.Name(node), edges))
        stmts.append(ast.OutputStmt(_names(cell.outputs)))
        return tuple(stmts)
    stmts.append(ast.NodesStmt(len(cell.nodes)))
    done: set[str] = set()
    for src, _, edge in cell.op_edges():
        key = src if cell.state(src).kind is NodeKind.INPUT else ast.NODES_SOURCE
        if key in done:
            continue
        done.add(key)
        if edge.opset is not None:
            stmts.append(ast.UseStmt(ast.Name(key), opset=ast.Name(edge.opset)))
        else:
            stmts.append(ast.UseStmt(ast.Name(key), ops=tuple(_ref(o) for o in edge.ops)))
    return tuple(stmts)


def _pair_body(pair: CellPair, cell_decl: type) -> tuple[ast.Stmt, ...]:
    body: list[ast.Stmt] = []
    if pair.keep_given or pair.keep != 2:
        body.append(ast.KeepStmt(pair.keep))
    for ctype in CellType:
        if ctype in pair.cells:
            body.append(cell_decl(ast.Name(ctype.value), _cell_body(pair.cells[ctype])))
    return tuple(body)


def genotype_to_ast(geno: Genotype, leading: tuple[str, ...] = ()) -> ast.GenotypeDecl:
    return ast.GenotypeDecl(ast.Name(geno.name), _pair_body(geno, ast.CellDecl), leading=leading)


def space_to_ast(space: SearchSpace) -> ast.SpaceDecl:
    return ast.SpaceDecl(ast.Name(space.name), _pair_body(space, ast.SpaceCellDecl))


def network_to_ast(net: Network) -> ast.NetworkDecl:
    assert net.settings is not None, "only valid networks are printed"
    entries = []
    for key, value in net.settings.model_dump(exclude_unset=True).items():
        v: ast.Value = ast.Name(value) if key in ("cells", "backbone") else value
        entries.append(ast.Entry(ast.Name(key), v))
    return ast.NetworkDecl(ast.Name(net.name), tuple(entries))


def program_to_module(program: Program, header: tuple[str, ...] = ()) -> ast.Module:
    """The whole program as one self-contained module (imports inlined)."""
    items: list[ast.Decl] = []
    items += [opset_to_ast(o) for o in program.opsets.values()]
    items += [genotype_to_ast(g) for g in program.genotypes.values()]
    items += [space_to_ast(s) for s in program.spaces.values()]
    items += [network_to_ast(n) for n in program.networks.values() if n.settings is not None]
    if header and items:
        first = items[0]
        import dataclasses
        items[0] = dataclasses.replace(first, leading=tuple(header) + first.leading)
    return ast.Module(tuple(items))


def dumps(program: Program, header: tuple[str, ...] = ()) -> str:
    """The program as canonical, self-contained .geno text (imports inlined)."""
    return format_module(program_to_module(program, header))
