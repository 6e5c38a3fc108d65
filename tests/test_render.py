"""Rendering: the DOT graphs of cells and networks, writing pictures, the `render` command."""

from __future__ import annotations

import re
import shutil

import pytest

from genodsl.cli import main
from genodsl.lang.ir import edge_key
from genodsl.errors import GenoError
from genodsl.lang.ir import CellType
from genodsl.lang.loader import builtin_dir, load, loads
from genodsl.ops.registry import KIND_COLORS, OpKind
from genodsl.render import render_cell, render_network, softmax, write

DOWN, UP, NORMAL = (KIND_COLORS[k] for k in (OpKind.DOWN, OpKind.UP, OpKind.NORMAL))
HAS_DOT = shutil.which("dot") is not None

_EDGE = re.compile(r"^\s*(\S+) -> (\S+)(?: \[(.*)\])?$", re.M)
_NODE = re.compile(r"^\s*(\w+) \[(.*)\]$", re.M)
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


def _attrs(text: str | None) -> dict[str, str]:
    return {k: v.strip('"') for k, v in _ATTR.findall(text or "")}


def edges(graph) -> dict[tuple[str, str], dict[str, str]]:
    """(src, dst) → attributes, from the DOT source (invisible layout edges left out)."""
    found = {(u, v): _attrs(a) for u, v, a in _EDGE.findall(graph.source)}
    return {k: a for k, a in found.items() if a.get("style") != "invis"}


def nodes(graph) -> dict[str, dict[str, str]]:
    return {n: _attrs(a) for n, a in _NODE.findall(graph.source) if n not in ("node", "edge")}


@pytest.fixture(scope="module")
def nasunet():
    return load(builtin_dir() / "nasunet.geno")


@pytest.fixture(scope="module")
def space():
    return load(builtin_dir() / "nasunet_space.geno")


# ---- cells ----------------------------------------------------------------------------------
def test_discrete_down_cell(nasunet):
    g = render_cell(nasunet.genotypes["NASUNET"].cells[CellType.DOWN], "NASUNET down")
    ns = nodes(g)
    assert {"s0", "s1", "n2", "n3", "n4", "concat"} <= set(ns)
    assert ns["s0"]["label"] == "s0 (c_{k-2})" and ns["s1"]["label"] == "s1 (c_{k-1})"
    es = edges(g)
    ops = {k: a for k, a in es.items() if "label" in a}
    assert {k: a["label"] for k, a in ops.items()} == {
        ("s1", "n2"): "down_conv", ("s0", "n2"): "down_dep_conv",
        ("s1", "n3"): "down_cweight", ("s0", "n3"): "down_dil_conv",
        ("s1", "n4"): "down_dil_conv", ("s0", "n4"): "down_conv"}
    assert {a["color"] for a in ops.values()} == {DOWN}
    assert sorted(k for k in es if k not in ops) == [("n2", "concat"), ("n3", "concat"),
                                                     ("n4", "concat")]
    assert "rankdir=LR" in g.source and "down op" in g.source  # layout + legend


def test_up_cell_roles_and_colours(nasunet):
    g = render_cell(nasunet.genotypes["NASUNET"].cells[CellType.UP], "NASUNET up")
    ns = nodes(g)
    assert ns["s0"]["label"] == "s0 (skip)" and ns["s1"]["label"] == "s1 (previous)"
    es = edges(g)
    assert es[("s0", "n2")]["color"] == NORMAL  # identity
    assert es[("s1", "n4")] == {"label": "up_conv", "color": UP, "fontcolor": UP}
    assert es[("n3", "n4")]["label"] == "cweight"


TINY = """
genotype G {
  cell down {
    input s0, s1
    node n2 = down_conv(s1, k=5) + down_dep_conv(s0)
    output concat(n2)
  }
  cell up {
    input s0, s1
    node n2 = conv(s0, k=5) + up_conv(s1)
    output concat(n2)
  }
}
space S {
  cell down {
    input s0, s1
    nodes 2
    from s0 use [max_pool, down_conv(k=5)]
    from s1 use [avg_pool]
    from nodes use [none, identity]
  }
  cell up {
    input s0, s1
    nodes 2
    from s0 use [identity]
    from s1 use [up_conv]
    from nodes use [identity]
  }
}
"""


def test_op_arguments_in_labels():
    program = loads(TINY)
    es = edges(render_cell(program.genotypes["G"].cells[CellType.UP], "G up"))
    assert es[("s0", "n2")]["label"] == "conv(k=5)" and es[("s0", "n2")]["color"] == NORMAL
    es = edges(render_cell(program.spaces["S"].cells[CellType.DOWN], "S down"))
    assert es[("s0", "n3")]["label"] == "[max_pool, down_conv(k=5)]"


@pytest.mark.parametrize("ctype", list(CellType))
def test_search_cell_draws_every_edge(space, ctype):
    cell = space.spaces["NASUNET_NORMAL_SPACE"].cells[ctype]
    m = len(cell.nodes)
    es = [a for a in edges(render_cell(cell, "space")).values() if "label" in a]
    assert len(es) == 2 * m + m * (m - 1) // 2
    expected = {CellType.DOWN: {"Down", "Normal"}, CellType.UP: {"Up", "Normal"},
                CellType.NORMAL: {"Normal"}}[ctype]
    assert {a["label"] for a in es} == expected


def test_search_cell_weights_label_and_width():
    cell = loads(TINY).spaces["S"].cells[CellType.DOWN]
    weights = {edge_key(u, v): [0.0] * len(e.ops) for u, v, e in cell.op_edges()}
    weights[edge_key("s0", "n2")] = [0.0, 3.0]  # down_conv(k=5) dominates
    weights[edge_key("n2", "n3")] = [4.0, 0.0]  # `none` dominates: a weak edge
    es = edges(render_cell(cell, "alphas", weights=weights))
    top = softmax([0.0, 3.0])[1]
    assert es[("s0", "n2")]["label"].split("\\n") == [f"down_conv(k=5) {top:.2f}",
                                                      f"max_pool {1 - top:.2f}"]
    width = {k: float(a["penwidth"]) for k, a in es.items() if "penwidth" in a}
    assert width[("s0", "n2")] > width[("s0", "n3")] > width[("n2", "n3")]
    assert width[("s1", "n2")] == width[("s1", "n3")]  # a single candidate: full strength


def test_bad_weights_are_rejected(nasunet):
    cell = loads(TINY).spaces["S"].cells[CellType.DOWN]
    with pytest.raises(ValueError, match="missing"):
        render_cell(cell, "x", weights={})
    good = {edge_key(u, v): [0.0] * len(e.ops) for u, v, e in cell.op_edges()}
    with pytest.raises(ValueError, match="candidates"):
        render_cell(cell, "x", weights=good | {edge_key("s0", "n2"): [0.0]})
    with pytest.raises(ValueError, match="search cells"):
        render_cell(nasunet.genotypes["NASUNET"].cells[CellType.DOWN], "x", weights=good)


# ---- networks -------------------------------------------------------------------------------
def test_network_stages_and_skips(nasunet):
    net = nasunet.networks["nasunet_promise12"]
    depth = net.settings.depth
    g = render_network(net, nasunet, input_size=256)
    ns = nodes(g)
    downs = [n for n in ns if re.fullmatch(r"down\d+", n)]
    ups = [n for n in ns if re.fullmatch(r"up\d+", n)]
    assert len(downs) == depth and len(ups) == depth + 1
    assert {"input", "stem0", "stem1", "head", "output"} <= set(ns)
    encoder = ["stem0", "stem1"] + [f"down{j}" for j in range(1, depth + 1)]
    skips = {k for k, a in edges(g).items() if a.get("constraint") == "false"}
    assert skips == {(encoder[depth - i], f"up{i + 1}") for i in range(depth + 1)}
    assert ("stem0", f"up{depth + 1}") in skips
    assert "8×8 · 96 ch" in ns["up1"]["label"] and "4×4" in ns[f"down{depth}"]["label"]
    assert "256×256 · 2 ch" in ns["head"]["label"]
    assert ns["down1"]["color"] == DOWN and ns["up1"]["color"] == UP


def test_network_sizes_without_input_and_search_stems(space):
    g = render_network(space.networks["nasunet_search"], space)
    ns = nodes(g)
    assert "H/2×W/2 · 48 ch" in ns["stem1"]["label"]  # stems M·C = 3·16
    assert "H×W" in ns["up5"]["label"]


def test_network_input_size_must_fit(nasunet):
    with pytest.raises(GenoError, match="does not fit"):
        render_network(nasunet.networks["nasunet_promise12"], nasunet, input_size=100)


# ---- writing --------------------------------------------------------------------------------
@pytest.fixture
def down_graph(nasunet):
    return render_cell(nasunet.genotypes["NASUNET"].cells[CellType.DOWN], "NASUNET down")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_write_svg(down_graph, tmp_path):
    result = write(down_graph, tmp_path / "cell.svg")
    text = result.path.read_text(encoding="utf-8")
    assert not result.fallback and result.format == "svg"
    assert "<svg" in text and "down_dep_conv" in text
    assert [p.name for p in tmp_path.iterdir()] == ["cell.svg"]  # no temp files left


@pytest.mark.parametrize("suffix", [".dot", ".gv"])
def test_write_text(down_graph, tmp_path, suffix):
    result = write(down_graph, tmp_path / f"cell{suffix}")
    assert result.path.read_text(encoding="utf-8") == down_graph.source
    assert not result.fallback and result.warning is None


def test_write_without_dot_falls_back(down_graph, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = write(down_graph, tmp_path / "cell.png")
    assert result.fallback and result.path == tmp_path / "cell.dot"
    assert result.path.read_text(encoding="utf-8") == down_graph.source
    assert not (tmp_path / "cell.png").exists()
    assert "apt-get install graphviz" in result.warning and "cell.dot" in result.warning


def test_unknown_suffix(down_graph, tmp_path):
    with pytest.raises(GenoError) as info:
        write(down_graph, tmp_path / "cell.jpeg")
    assert ".svg" in str(info.value) and ".gv" in str(info.value)
    assert not any(tmp_path.iterdir())


# ---- the command ----------------------------------------------------------------------------
def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["render", *args])
    out = capsys.readouterr()
    return info.value.code or 0, out.out, out.err


def test_cli_renders_a_cell(tmp_path, capsys):
    out = tmp_path / "down.dot"
    code, stdout, _ = run_cli([str(builtin_dir() / "nasunet.geno"), "--cell", "NASUNET.down",
                               "-o", str(out)], capsys)
    assert code == 0 and "down_dep_conv" in out.read_text(encoding="utf-8")
    assert str(out) in stdout


def test_cli_renders_a_network_and_warns_without_dot(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, _, err = run_cli([str(builtin_dir() / "nasunet.geno"), "--network", "nasunet_tiny",
                            "--input-size", "64", "-o", str(tmp_path / "net.svg")], capsys)
    assert code == 0 and (tmp_path / "net.dot").is_file()
    assert "warning" in err and "net.dot" in err and "apt-get install graphviz" in err


@pytest.mark.parametrize("args,message", [
    (["--cell", "NASUNET.dwn"], "did you mean 'NASUNET.down'?"),
    (["--cell", "NASUNT.up"], "did you mean 'NASUNET.up'"),
    (["--network", "nasunet_promise"], "did you mean 'nasunet_promise12'"),
    ([], "NAME one of: NASUNET, NAS_UNET_V1_En"),
    (["--cell", "NASUNET.down", "--network", "nasunet_tiny"], "both --cell and --network"),
    (["--cell", "NASUNET.up", "--input-size", "64"], "--network only"),
])
def test_cli_bad_names(tmp_path, capsys, args, message):
    code, _, err = run_cli([str(builtin_dir() / "nasunet.geno"), *args, "-o",
                            str(tmp_path / "x.svg")], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("double", [False, True])
def test_network_labels_are_the_stage_plan(nasunet, double):
    from genodsl.lang.ir import Network
    from genodsl.lang.plan import stage_plan

    settings = nasunet.networks["nasunet_promise12"].settings.model_copy(
        update={"double_down_channel": double, "depth": 3})
    plan = stage_plan(settings, nasunet.cells_of(settings.cells), (64, 64))
    ns = nodes(render_network(Network("n", settings), nasunet, input_size=64))
    for stage in (*plan.stems, *plan.cells):
        h, w = stage.size
        assert ns[stage.name]["label"].endswith(f"{h}×{w} · {stage.out_channels} ch")
    skips = {k for k, a in edges(render_network(Network("n", settings), nasunet)).items()
             if a.get("constraint") == "false"}
    assert skips == {(c.s0, c.name) for c in plan.up_cells}


def test_network_with_normal_cells_draws_them_from_the_plan(space, tmp_path):
    from genodsl.lang.plan import stage_plan

    net = space.networks["nasunet_search_wide"]
    settings = net.settings.model_copy(update={"cells_per_level": 2})
    plan = stage_plan(settings, space.cells_of(settings.cells), (64, 64))
    from genodsl.lang.ir import Network
    g = render_network(Network("wide", settings), space, input_size=64)
    ns, es = nodes(g), edges(g)
    normal = [c for c in plan.cells if c.type is CellType.NORMAL]
    assert normal[0].name == "normal1" and not normal[0].decoder
    for cell in normal:
        assert ns[cell.name]["color"] == KIND_COLORS[OpKind.NORMAL]
        h, w = cell.size
        assert ns[cell.name]["label"].endswith(f"{h}×{w} · {cell.out_channels} ch")
    assert ("normal1", "up5") in es and es[("normal1", "up5")]["constraint"] == "false"
    assert ("stem0", "normal1") in es  # stem0 feeds the full-size cell (once: s0 = s1)
    decoder = [c for c in normal if c.decoder]
    assert decoder and all(es[(c.s0, c.name)]["constraint"] == "false" for c in decoder)
    result = write(g, tmp_path / "wide.svg")
    assert result.path.exists() and result.path.stat().st_size > 0
