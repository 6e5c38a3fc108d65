"""`genodsl lsp`: the .geno language server on stdio, for editors (docs/editors.md)."""

from __future__ import annotations

import importlib.util

import typer

from ..errors import GenoError


def lsp() -> None:
    """Run the .geno language server (LSP over stdin/stdout) for an editor to talk to."""
    if importlib.util.find_spec("pygls") is None or importlib.util.find_spec("lsprotocol") is None:
        raise GenoError("`genodsl lsp` needs pygls, which is not installed",
                        hint="install the lsp extra: pip install 'genodsl[lsp]'")
    from ..lsp.server import serve

    serve()


def register(app: typer.Typer) -> None:
    app.command()(lsp)
