"""Runs: run folders (claimed, never clobbering a user's files), saved models, loading a run.

Import the modules directly: :mod:`.folders` (torch-free), :mod:`.saved`, :mod:`.load`.
"""
