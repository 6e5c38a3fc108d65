"""The .geno language server (``genodsl lsp``): LSP over stdio with pygls, torch-free.

Modules: :mod:`.analysis` (a document's text → AST, imports, IR and the diagnostics of
``genodsl check``), :mod:`.lexical` (what the cursor is on when the text does not parse),
:mod:`.index` (what the cursor is on in a parsed document), :mod:`.hover`,
:mod:`.complete`, :mod:`.symbols` (outline and formatting) and :mod:`.server` (the handlers).
Queries work in characters (0-based lines and columns); the server converts to the
client's position encoding.
"""
