"""The pygls language server: documents in, diagnostics out; hover, completion, definition,
formatting and the outline on request.

Each document is analysed once per text (on open and on every change) and the result is
kept for the requests that follow.  Saving any file re-checks every open document, since
it may be imported by them.  Queries work in characters; this module converts positions
from and to the client's encoding (UTF-16 unless the client negotiates another).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.workspace import TextDocument

from ..version import __version__
from ..errors import Diagnostic, Severity
from .analysis import Analysis, analyse
from .complete import completion
from .hover import definition, hover
from .symbols import document_symbols, formatted, span_range

SEVERITY = {Severity.ERROR: lsp.DiagnosticSeverity.Error,
            Severity.WARNING: lsp.DiagnosticSeverity.Warning}
TRIGGERS = ["(", "[", ",", "=", "+", '"', " "]


class GenoLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("genodsl", __version__)
        self.analyses: dict[str, Analysis] = {}

    def document(self, uri: str) -> tuple[TextDocument, Analysis]:
        """The open document and the analysis of its current text."""
        doc = self.workspace.get_text_document(uri)
        found = self.analyses.get(uri)
        if found is None or found.text != doc.source:
            if uri.startswith("file:") and doc.path:
                path = Path(doc.path)
                file, base = str(path), path.parent
            else:  # an unsaved buffer: imports resolve against the workspace root
                file, base = uri, Path(self.workspace.root_path or Path.cwd())
            found = self.analyses[uri] = analyse(doc.source, file, base)
        return doc, found

    def publish(self, uri: str) -> None:
        doc, found = self.document(uri)
        diags = [_diagnostic(d, doc) for d in found.diagnostics]
        self.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=doc.version))


def _to_client(lines: Sequence[str], rng: lsp.Range, doc: TextDocument) -> lsp.Range:
    """A range in characters → the client's units, over ``lines`` (the document's or a file's)."""
    return doc.position_codec.range_to_client_units(lines, rng)


def _diagnostic(d: Diagnostic, doc: TextDocument) -> lsp.Diagnostic:
    rng = span_range(d.span) if d.span is not None else lsp.Range(
        start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0))
    return lsp.Diagnostic(
        range=_to_client(doc.lines, rng, doc), severity=SEVERITY[d.severity], code=d.code,
        source="genodsl", message=d.message + (f"\nhint: {d.hint}" if d.hint else ""),
        data={"hint": d.hint} if d.hint else None)


def _position(doc: TextDocument, pos: lsp.Position) -> tuple[int, int]:
    here = doc.position_codec.position_from_client_units(doc.lines, pos)
    return here.line, here.character


def _uri(file: str) -> str:
    return file if ":" in file and not Path(file).is_absolute() else Path(file).as_uri()


def _convert_symbol(sym: lsp.DocumentSymbol, doc: TextDocument) -> lsp.DocumentSymbol:
    sym.range = _to_client(doc.lines, sym.range, doc)
    sym.selection_range = _to_client(doc.lines, sym.selection_range, doc)
    for child in sym.children or []:
        _convert_symbol(child, doc)
    return sym


def create_server() -> GenoLanguageServer:
    server = GenoLanguageServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: GenoLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: GenoLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: GenoLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        ls.analyses.clear()  # an open document may import the file just saved
        for uri in list(ls.workspace.text_documents):
            ls.publish(uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: GenoLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.analyses.pop(params.text_document.uri, None)
        ls.text_document_publish_diagnostics(
            lsp.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: GenoLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
        doc, found = ls.document(params.text_document.uri)
        result = hover(found, *_position(doc, params.position))
        if result is None:
            return None
        text, span = result
        rng = _to_client(doc.lines, span_range(span), doc) if span is not None else None
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
                         range=rng)

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                    lsp.CompletionOptions(trigger_characters=TRIGGERS))
    def on_completion(ls: GenoLanguageServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        doc, found = ls.document(params.text_document.uri)
        items = completion(found, *_position(doc, params.position))
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: GenoLanguageServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
        doc, found = ls.document(params.text_document.uri)
        out = []
        for target in definition(found, *_position(doc, params.position)):
            if target.span is None:
                rng = lsp.Range(start=lsp.Position(line=0, character=0),
                                end=lsp.Position(line=0, character=0))
            elif target.file == found.file:
                rng = _to_client(doc.lines, span_range(target.span), doc)
            else:
                lines = Path(target.file).read_text(encoding="utf-8").splitlines(True)
                rng = _to_client(lines, span_range(target.span), doc)
            out.append(lsp.Location(uri=params.text_document.uri if target.file == found.file
                                    else _uri(target.file), range=rng))
        return out

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(ls: GenoLanguageServer, params: lsp.DocumentFormattingParams
                      ) -> list[lsp.TextEdit] | None:
        doc, found = ls.document(params.text_document.uri)
        new = formatted(doc.source, found.file)
        if new is None:
            return None  # text that does not parse is left as it is
        if new == doc.source:
            return []
        lines = doc.source.split("\n")
        end = lsp.Position(line=len(lines) - 1, character=len(lines[-1]))
        whole = lsp.Range(start=lsp.Position(line=0, character=0), end=end)
        return [lsp.TextEdit(range=_to_client(doc.lines, whole, doc), new_text=new)]

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(ls: GenoLanguageServer, params: lsp.DocumentSymbolParams
                   ) -> list[lsp.DocumentSymbol]:
        doc, found = ls.document(params.text_document.uri)
        if found.module is None:
            return []
        return [_convert_symbol(s, doc) for s in document_symbols(found.module)]

    return server


def serve() -> None:
    """Speak LSP over stdin/stdout until the client says exit."""
    create_server().start_io()
