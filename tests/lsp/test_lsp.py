"""`genodsl lsp` end to end: a subprocess spoken to over stdio as an editor would.

initialize → didOpen of a broken file → publishDiagnostics → didChange fixing it → empty
diagnostics → hover → completion → definition across an import → formatting →
documentSymbol → shutdown/exit.  With GENODSL_LSP_TRANSCRIPT=path the exchange is written
to that file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from lsp_client import LspClient  # noqa: E402

from genodsl.errors import GenoError  # noqa: E402
from genodsl.lang.loader import load  # noqa: E402
from genodsl.lang.parse import parse  # noqa: E402
from genodsl.lang.printer import format_module  # noqa: E402
from genodsl.ops.registry import OpKind, ops_of_kind  # noqa: E402

LIB = """\
# shared by the models of this folder
opset Pools = [avg_pool, max_pool]

genotype BASE {
  cell down {
    input s0, s1
    node n2 = down_conv(s1) + down_dep_conv(s0)
    output concat(n2)
  }
  cell up {
    input s0, s1
    node n2 = identity(s0) + up_conv(s1)
    output concat(n2)
  }
}
"""

BROKEN = """\
import "lib.geno"

genotype G {
  cell down {
    input s0, s1
    node n2 = dep_cnv(s1) + down_conv(s0)
    output concat(n2)
  }
  cell up {
    input s0, s1
    node n2 = identity(s0) + up_conv(s1)
    output concat(n2)
  }
}

network small { cells = BASE   C = 4  # a tiny one
  depth = 2 }
"""
FIXED = BROKEN.replace("dep_cnv(s1)", "down_cweight(s1)")


def _pos(text: str, needle: str, line_hint: str | None = None) -> dict:
    """The 0-based LSP position of the first ``needle`` (on the line containing ``line_hint``)."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if (line_hint is None or line_hint in line) and needle in line:
            return {"line": i, "character": line.index(needle)}
    raise AssertionError(f"{needle!r} not in the text")


def _apply(text: str, edits: list[dict]) -> str:
    """Apply whole-document edits (the server sends one that spans everything)."""
    assert len(edits) == 1
    rng = edits[0]["range"]
    lines = text.split("\n")
    assert rng["start"] == {"line": 0, "character": 0}
    assert rng["end"] == {"line": len(lines) - 1, "character": len(lines[-1])}
    return edits[0]["newText"]


@pytest.fixture
def client(tmp_path):
    c = LspClient(cwd=tmp_path)
    yield c
    c.close()


def test_an_editor_session(client, tmp_path):
    (tmp_path / "lib.geno").write_text(LIB, encoding="utf-8")
    main = tmp_path / "main.geno"
    main.write_text(BROKEN, encoding="utf-8")  # as saved; the editor's text is what is checked
    uri = main.as_uri()
    doc = {"uri": uri}

    init = client.request("initialize", {
        "processId": os.getpid(), "rootUri": tmp_path.as_uri(),
        "capabilities": {"textDocument": {"hover": {"contentFormat": ["markdown"]},
                                          "documentSymbol": {
                                              "hierarchicalDocumentSymbolSupport": True}}}})
    caps = init["capabilities"]
    for cap in ("hoverProvider", "completionProvider", "definitionProvider",
                "documentFormattingProvider", "documentSymbolProvider"):
        assert caps.get(cap), cap
    assert init["serverInfo"]["name"] == "genodsl"
    client.notify("initialized", {})

    # a broken file: the diagnostics of `genodsl check`, as LSP ranges
    client.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "geno", "version": 1, "text": BROKEN}})
    published = client.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri)
    assert published["version"] == 1
    [diag] = published["diagnostics"]
    assert diag["code"] == "E010" and diag["source"] == "genodsl" and diag["severity"] == 1
    start = _pos(BROKEN, "dep_cnv")
    assert diag["range"] == {"start": start,
                             "end": {"line": start["line"], "character": start["character"] + 7}}
    assert diag["message"].startswith("unknown op 'dep_cnv'\nhint: did you mean 'dep_conv'")
    with pytest.raises(GenoError) as check:
        load(main)
    [expected] = check.value.errors
    assert (expected.code, expected.span.line - 1, expected.span.col - 1) == \
        (diag["code"], start["line"], start["character"])
    assert diag["data"]["hint"] == expected.hint

    # the fix, typed in the editor: no problem left
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": FIXED}]})
    published = client.wait_for("textDocument/publishDiagnostics",
                                lambda p: p["uri"] == uri and p.get("version") == 2)
    assert published["diagnostics"] == []

    # hover on an op: kind, weights, arguments with defaults, the paper's meaning
    at = _pos(FIXED, "down_conv", "node n2 = down_cweight")
    at["character"] += 3
    hover = client.request("textDocument/hover", {"textDocument": doc, "position": at})
    text = hover["contents"]["value"]
    assert hover["contents"]["kind"] == "markdown"
    assert "**down_conv**: down op, has weights" in text
    assert "stride-2 k×k conv → GN → ReLU" in text and "| `k` | 3 | kernel size (odd) |" in text
    assert hover["range"]["start"]["character"] == at["character"] - 3

    # completion on the op of an edge from s1 in a down cell: only down ops
    at = _pos(FIXED, "down_cweight(s1)")
    at["character"] += len("down_")
    items = client.request("textDocument/completion", {"textDocument": doc, "position": at})
    labels = {i["label"] for i in items["items"]}
    assert labels == {s.name for s in ops_of_kind(OpKind.DOWN)}

    # go to definition across the import: the genotype's name in lib.geno
    at = _pos(FIXED, "BASE", "cells")
    found = client.request("textDocument/definition", {"textDocument": doc, "position": at})
    lib_at = _pos(LIB, "BASE")
    assert found == [{"uri": (tmp_path / "lib.geno").as_uri(), "range": {
        "start": lib_at, "end": {"line": lib_at["line"], "character": lib_at["character"] + 4}}}]

    # formatting: one whole-document edit to what `genodsl fmt` writes, comments kept
    edits = client.request("textDocument/formatting", {
        "textDocument": doc, "options": {"tabSize": 2, "insertSpaces": True}})
    new = _apply(FIXED, edits)
    assert new == format_module(parse(FIXED)) and new != FIXED
    assert "network small {\n  cells = BASE  # a tiny one\n  C     = 4\n  depth = 2\n}\n" in new

    # the outline
    symbols = client.request("textDocument/documentSymbol", {"textDocument": doc})
    assert [(s["name"], s["kind"]) for s in symbols] == [
        ('import "lib.geno"', 1), ("G", 5), ("small", 2)]
    assert [c["name"] for c in symbols[1]["children"]] == ["cell down", "cell up"]
    assert [c["name"] for c in symbols[1]["children"][0]["children"]] == ["n2"]
    assert [c["name"] for c in symbols[2]["children"]] == ["cells", "C", "depth"]

    assert client.shutdown() == 0
    out = os.environ.get("GENODSL_LSP_TRANSCRIPT")
    if out:
        client.write_transcript(Path(out))


def test_lsp_without_pygls_names_the_extra(cli, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pygls" else real(name, *a))
    code, _out, err = cli("lsp")
    assert code == 2
    assert "needs pygls" in err and "pip install 'genodsl[lsp]'" in err
