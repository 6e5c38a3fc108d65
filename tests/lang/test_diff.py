"""`genodsl diff`: genotype A vs B per cell and node (texts, JSON, selection, exit codes, picture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genodsl.errors import GenoError
from genodsl.lang.diff import Change, diff_genotypes, is_empty, render_text, select_genotype, \
    summary, to_json
from genodsl.lang.loader import loads

GENOTYPES = Path(__file__).resolve().parents[2] / "genotypes"
NASUNET = f"{GENOTYPES / 'nasunet.geno'}:NASUNET"

DOWN = ["down_conv(s1) + down_dep_conv(s0)", "down_cweight(s1) + down_dil_conv(s0)"]
UP = ["identity(s0) + up_cweight(s1)", "identity(n2) + up_cweight(s1)"]


def geno_text(name: str, down: list[str] = DOWN, up: list[str] = UP, keep: int | None = None,
              inputs: str = "s0, s1", nodes: list[str] | None = None) -> str:
    """A genotype whose cells have the nodes ``down``/``up`` (named n2, n3, ... by default)."""
    def cell(kind: str, edges: list[str]) -> str:
        names = nodes or [f"n{i + 2}" for i in range(len(edges))]
        body = "".join(f"    node {n} = {e}\n" for n, e in zip(names, edges))
        return (f"  cell {kind} {{\n    input {inputs}\n{body}"
                f"    output concat({', '.join(names)})\n  }}\n")
    head = f"  keep {keep}\n" if keep is not None else ""
    return f"genotype {name} {{\n{head}{cell('down', down)}{cell('up', up)}}}\n"


def diff_of(b_text: str, a_text: str | None = None):
    a = loads(a_text or geno_text("A")).genotypes
    b = loads(b_text).genotypes
    return diff_genotypes(next(iter(a.values())), next(iter(b.values())))


def test_equal_genotypes_give_an_empty_diff():
    diff = diff_of(geno_text("B"))
    assert is_empty(diff) and diff.is_empty
    assert summary(diff) == "down: unchanged; up: unchanged"
    assert render_text(diff) == ("--- A\n+++ B\n"
                                 "down: = unchanged (2 nodes)\n"
                                 "up:   = unchanged (2 nodes)\n"
                                 "same genotype\n")


def test_one_changed_op():
    diff = diff_of(geno_text("B", ["down_conv(s1) + down_dep_conv(s0)",
                                   "down_conv(s1) + down_dil_conv(s0)"]))
    assert not is_empty(diff)
    [node] = diff.cells[0].changed_nodes
    assert node.name == "n3" and [e.what for e in node.edges] == [("op",)]
    assert summary(diff) == "down: n3 changed (1 edge); up: unchanged"
    assert render_text(diff) == ("--- A\n+++ B\n"
                                 "down n3: ~ down_cweight(s1) → down_conv(s1)\n"
                                 "down:    = unchanged n2\n"
                                 "up:      = unchanged (2 nodes)\n"
                                 "differs: down: n3 changed (1 edge); up: unchanged\n")


def test_one_changed_source():
    diff = diff_of(geno_text("B", up=["identity(s0) + up_cweight(s1)",
                                      "identity(s0) + up_cweight(s1)"]))
    [edge] = diff.cells[1].changed_nodes[0].edges
    assert edge.change is Change.CHANGED and edge.what == ("source",)
    assert render_text(diff).splitlines()[2:4] == ["down:  = unchanged (2 nodes)",
                                                   "up n3: ~ identity(n2) → identity(s0)"]


def test_added_and_removed_edges_and_nodes():
    b = geno_text("B", ["down_conv(s1) + down_dep_conv(s0)", "down_cweight(s1) + conv(n2)",
                        "conv(n3) + down_conv(s0)"])
    diff = diff_of(b)
    assert render_text(diff) == (
        "--- A\n+++ B\n"
        "down n3:     - down_dil_conv(s0)\n"
        "down n3:     + conv(n2)\n"
        "down n4:     + new node = conv(n3) + down_conv(s0)\n"
        "down output: ~ concat(n2, n3) → concat(n2, n3, n4)\n"
        "down:        = unchanged n2\n"
        "up:          = unchanged (2 nodes)\n"
        "differs: down: n3 changed (2 edges), n4 added, output changed; up: unchanged\n")
    back = diff_of(geno_text("A"), b)  # B → A: the node is removed
    assert "down n4:     - removed node = conv(n3) + down_conv(s0)" in render_text(back)
    assert [n.change for n in back.cells[0].changed_nodes] == [Change.CHANGED, Change.REMOVED]


def test_arguments_count_with_their_defaults_and_edge_order_does_not():
    same = geno_text("B", ["down_dep_conv(s0) + down_conv(s1, k=3)", DOWN[1]])
    assert is_empty(diff_of(same))
    diff = diff_of(geno_text("B", ["down_conv(s1, k=5) + down_dep_conv(s0)", DOWN[1]]))
    [edge] = diff.cells[0].changed_nodes[0].edges
    assert edge.what == ("args",)
    assert "down n2: ~ down_conv(s1) → down_conv(s1, k=5)" in render_text(diff)


def test_keep_change_is_reported():
    a = geno_text("A", ["down_conv(s1)"], ["up_conv(s1)"], keep=1)
    diff = diff_of(geno_text("B", ["down_conv(s1) + down_conv(s0)"], ["up_conv(s1) + conv(s0)"]),
                   a)
    text = render_text(diff)
    assert "keep:    ~ 1 → 2" in text and "down n2: + down_conv(s0)" in text
    assert summary(diff).startswith("keep 1 → 2; down: n2 changed (1 edge)")


def test_nodes_with_other_names_are_matched_by_position():
    b = geno_text("B", [e.replace("s0", "x").replace("s1", "y") for e in DOWN],
                  [e.replace("s0", "x").replace("s1", "y").replace("n2", "a") for e in UP],
                  inputs="x, y", nodes=["a", "b"])
    diff = diff_of(b)
    assert is_empty(diff)
    assert all(c.by_position for c in diff.cells)
    assert "down: = matched by position: x=s0, y=s1, a=n2, b=n3 (B shown by A's names)" \
        in render_text(diff)


def test_json_shape():
    diff = diff_of(geno_text("B", ["down_conv(s1) + down_dep_conv(s0)",
                                   "down_conv(s1) + down_dil_conv(s0)"]))
    data = json.loads(json.dumps(to_json(diff)))
    assert data["a"] == "A" and data["b"] == "B" and data["equal"] is False
    assert data["keep"] == {"a": 2, "b": 2}
    down, up = data["cells"]
    assert (down["cell"], down["equal"], down["matched_by"]) == ("down", False, "name")
    assert down["nodes"] == [{"node": "n3", "change": "changed", "edges": [
        {"change": "changed", "what": ["op"],
         "a": {"source": "s1", "op": "down_cweight", "args": {}},
         "b": {"source": "s1", "op": "down_conv", "args": {}}}]}]
    assert down["unchanged"] == ["n2"] and down["output"] is None
    assert up["equal"] is True and up["unchanged"] == ["n2", "n3"]
    assert data["summary"] == summary(diff)


# ---- choosing A and B --------------------------------------------------------------------
HISTORY = """# Derived by `genodsl search`; reload, check and compile this file as is.
#   epoch:       {epoch} of 2

{genotype}
network tiny_derived {{
  cells = S_darts_s0
  C     = 4
  depth = 1
}}
"""


def history(tmp_path: Path, epoch: int, down: list[str]) -> Path:
    path = tmp_path / "history" / f"epoch_{epoch:04d}.geno"
    path.parent.mkdir(exist_ok=True)
    path.write_text(HISTORY.format(epoch=epoch, genotype=geno_text("S_darts_s0", down)))
    return path


def test_select_file_genotype_and_shipped_names(tmp_path):
    geno, label = select_genotype(NASUNET)
    assert geno.name == "NASUNET" and label == NASUNET
    shipped, label = select_genotype("nasunet.geno:NAS_UNET_V3")
    assert shipped.name == "NAS_UNET_V3" and label == "nasunet.geno:NAS_UNET_V3"
    one = history(tmp_path, 1, DOWN)  # one genotype: no name needed
    assert select_genotype(str(one)) == (select_genotype(f"{one}:S_darts_s0")[0],
                                         f"{one}:S_darts_s0")
    mine = tmp_path / "mine.geno"  # the file's own genotype, not the imported ones
    mine.write_text('import "nasunet.geno"\n' + geno_text("MINE"), encoding="utf-8")
    assert select_genotype(str(mine))[0].name == "MINE"


@pytest.mark.parametrize("spec, message", [
    ("{nasunet}", "the file declares 10 genotypes; name one as"),
    ("{nasunet}:NASUNT", "no genotype 'NASUNT' in this file"),
    ("nasunet_space.geno:NASUNET_SPACE", "'NASUNET_SPACE' is a search space, not a genotype"),
    ("nasunet_space.geno", "the file declares no genotype"),
    ("{tmp}/nope.geno", "no such file"),
])
def test_select_errors_name_the_file(spec, message, tmp_path):
    spec = spec.format(nasunet=GENOTYPES / "nasunet.geno", tmp=tmp_path)
    with pytest.raises(GenoError) as err:
        select_genotype(spec)
    assert message in str(err.value)
    if "10 genotypes" in message:
        assert "NAS_UNET_V3" in str(err.value) and "NASUNET" in str(err.value)


# ---- the command ---------------------------------------------------------------------------
def test_cli_exit_codes(cli, tmp_path):
    code, out, _ = cli("diff", NASUNET, f"{GENOTYPES / 'nasunet.geno'}:NAS_UNET_V2")
    assert code == 0 and out.endswith("same genotype\n")
    code, out, _ = cli("diff", NASUNET, "nasunet.geno:NAS_UNET_V3")
    assert code == 1
    assert "down n2:     ~ down_conv(s1)      → down_dil_conv(s1)" in out
    assert "up n5:       + new node = up_cweight(s1) + conv(n4)" in out
    code, out, err = cli("diff", GENOTYPES / "nasunet.geno", NASUNET)
    assert code == 2 and "declares 10 genotypes" in err and "Traceback" not in err and not out


def test_cli_on_search_history_and_json(cli, tmp_path):
    first = history(tmp_path, 1, DOWN)
    second = history(tmp_path, 2, ["down_conv(s1) + down_dep_conv(s0)",
                                   "down_conv(s1) + down_dil_conv(s0)"])
    code, out, _ = cli("diff", first, second, "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["a"] == f"{first}:S_darts_s0" and data["equal"] is False
    assert data["summary"] == "down: n3 changed (1 edge); up: unchanged"
    code, out, _ = cli("diff", second, second, "--format", "json")
    assert code == 0 and json.loads(out)["equal"] is True


def test_cli_draws_the_two_genotypes(cli, tmp_path, monkeypatch):
    dot = tmp_path / "diff.dot"
    code, out, err = cli("diff", NASUNET, "nasunet.geno:NAS_UNET_V3", "-o", dot)
    assert code == 1 and f"wrote {dot}" in err
    source = dot.read_text(encoding="utf-8")
    for node in ("down_a_n4", "down_b_n5", "up_a_s0", "up_b_concat"):
        assert node in source
    assert "#2CA02C" in source and "#D62728" in source and "#FF7F0E" in source
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no Graphviz: the DOT text instead
    code, _, err = cli("diff", NASUNET, "nasunet.geno:NAS_UNET_V3", "-o", tmp_path / "d.svg")
    assert code == 1 and "'dot' program was not found" in err
    assert (tmp_path / "d.dot").read_text(encoding="utf-8") == source
    assert not (tmp_path / "d.svg").exists()
