"""The .geno language: text → AST → IR (one ``nx.DiGraph`` per cell) → diagnostics → text.

Stages, one module each, torch-free: :mod:`.grammar` (the one Lark parser),
:mod:`.syntax_errors` (catalogue of labelled syntax errors), :mod:`.comments`, :mod:`.parse`
(Lark tree → :mod:`.ast`), :mod:`.lower` (AST → :mod:`.ir` types), :mod:`.validate`
(IR → every problem at once), :mod:`.loader` (files and imports), :mod:`.printer`
(canonical text).
"""
