"""Source spans, diagnostics and the GenoError family, with one formatter for all of them.

Every user-facing problem (a bad ``.geno`` file, a bad config, bad data) ends as a
:class:`GenoError` carrying one or more :class:`Diagnostic` objects.  The CLI prints
``str(error)`` and exits with code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Span:
    """A region of a source file (1-based lines and columns, end exclusive)."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    line_text: str = field(default="", compare=False, repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in user input."""

    code: str
    message: str
    span: Span | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR
    file: str | None = None  # used when there is no span (e.g. a data file)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def render(self) -> str:
        where = str(self.span) if self.span else (self.file or "")
        head = f"{where}: " if where else ""
        out = [f"{head}{self.severity.value}[{self.code}]: {self.message}"]
        if self.span and self.span.line_text:
            text = self.span.line_text.rstrip("\n")
            gutter = f"{self.span.line:>4} | "
            pad = " " * (len(gutter) - 2) + "| "
            if self.span.end_line == self.span.line:
                width = max(1, self.span.end_col - self.span.col)
            else:
                width = max(1, len(text) - self.span.col + 1)
            out.append(gutter + text)
            out.append(pad + " " * (self.span.col - 1) + "^" * width)
        if self.hint:
            out.append(f"   hint: {self.hint}")
        return "\n".join(out)


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    diags = list(diagnostics)
    body = "\n\n".join(d.render() for d in diags)
    n_err = sum(d.is_error for d in diags)
    n_warn = len(diags) - n_err
    if n_err > 1 or (n_err and n_warn):
        parts = [f"{n_err} error{'s' if n_err != 1 else ''}"]
        if n_warn:
            parts.append(f"{n_warn} warning{'s' if n_warn != 1 else ''}")
        body += "\n\n" + ", ".join(parts)
    return body


class GenoError(Exception):
    """Base of every user-facing error of genodsl."""

    default_code = "E000"

    def __init__(self, diagnostics: Sequence[Diagnostic] | str, *, code: str | None = None,
                 span: Span | None = None, hint: str | None = None, file: str | None = None):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(code or self.default_code, diagnostics, span=span, hint=hint,
                                      file=file)]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__(render_all(self.diagnostics))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]


class GenoSyntaxError(GenoError):
    default_code = "E001"


class GenoValidationError(GenoError):
    default_code = "E100"


class GenoImportError(GenoError):
    default_code = "E030"


class ConfigError(GenoError):
    default_code = "E200"


class DataError(GenoError):
    default_code = "E300"


class CheckpointError(GenoError):
    default_code = "E400"


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' hint listing close matches, or the available names when none is close."""
    options = sorted(set(choices))
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.6)
    if close:
        quoted = [f"'{c}'" for c in close]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        return f"did you mean {listed}?"
    if not options:
        return None
    shown = ", ".join(options[:12]) + (", ..." if len(options) > 12 else "")
    return f"available: {shown}"
