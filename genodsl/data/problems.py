"""Error codes of the data package and a collector that raises them as one :class:`DataError`.

Every problem with user data becomes a :class:`genodsl.errors.Diagnostic` naming the file it
concerns.  Checks that look at many files collect their problems in a :class:`Problems` and
raise them together, so the user sees every bad file at once instead of one per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from os import PathLike
from typing import Iterable

from genodsl.errors import DataError, Diagnostic

MEDICAL_HINT = "install the medical extra: pip install genodsl[medical]"


class Code(str, Enum):
    """Stable error codes (E3xx) for data problems."""

    MISSING = "E301"          # a path or folder that does not exist or is empty
    UNREADABLE = "E302"       # a file the library could not read (corrupt, truncated)
    SUFFIX = "E303"           # a suffix no reader handles
    DEPENDENCY = "E304"       # an optional reader library is not installed
    UNMATCHED = "E305"        # images without masks or masks without images
    SHAPE = "E306"            # image and mask disagree, or a bad number of dimensions/channels
    CLASS_MAP = "E307"        # mask values outside the class map
    LAYOUT = "E308"           # a data root whose layout cannot be recognised
    SPLIT = "E309"            # a split that cannot be made or does not match the data


def data_error(code: Code, message: str, file: str | PathLike[str] | None = None,
               hint: str | None = None) -> DataError:
    """One :class:`DataError` with one diagnostic."""
    return DataError([Diagnostic(code.value, message, file=_fmt(file), hint=hint)])


def _fmt(file: str | PathLike[str] | None) -> str | None:
    return None if file is None else str(file)


def preview(items: Iterable[object], limit: int = 5) -> str:
    """``a, b, c, ... (12 in all)``: a short list for error messages."""
    seq = [str(x) for x in items]
    shown = ", ".join(seq[:limit])
    return shown + (f", ... ({len(seq)} in all)" if len(seq) > limit else "")


@dataclass
class Problems:
    """Collects diagnostics from a pass over many files; :meth:`raise_if_any` raises them."""

    limit: int = 5
    diagnostics: list[Diagnostic] = field(default_factory=list)
    dropped: int = 0

    def add(self, code: Code, message: str, file: str | PathLike[str] | None = None,
            hint: str | None = None) -> None:
        if len(self.diagnostics) < self.limit:
            self.diagnostics.append(Diagnostic(code.value, message, file=_fmt(file), hint=hint))
        else:
            self.dropped += 1

    def add_error(self, error: DataError) -> None:
        for diag in error.diagnostics:
            if len(self.diagnostics) < self.limit:
                self.diagnostics.append(diag)
            else:
                self.dropped += 1

    def __bool__(self) -> bool:
        return bool(self.diagnostics)

    def raise_if_any(self) -> None:
        if not self.diagnostics:
            return
        diags = list(self.diagnostics)
        if self.dropped:
            last = diags[-1]
            more = f"{self.dropped} more problem{'s' if self.dropped != 1 else ''} not shown"
            diags[-1] = replace(last, hint=f"{last.hint}; {more}" if last.hint else more)
        raise DataError(diags)
