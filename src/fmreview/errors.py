"""The one exception hierarchy of fmreview.

::

    FmreviewError                 every error the CLI turns into a one-line message
    ├── InputError                bad user input: a file, a record, an option value
    │   └── RecordError           one bad record (file, record number/line, field, found, expected)
    ├── FormatError               a file whose format is unknown or unsupported
    ├── ProtocolError             a protocol file that does not validate (file, line, key)
    ├── StoreError                the review store: missing, locked, wrong schema version
    ├── SourceError               a literature source (HTTP status, query, the source's message)
    ├── StatsError                a statistical model that cannot be fitted as asked
    ├── NotFoundError             a named thing (work, run, model, estimator) does not exist
    └── ForbiddenError            a role or the review's rules do not allow this action

Every message names the bad value and the way out, e.g.
``Unknown screening model 'svmx'; available: nb, logistic, svm``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


class FmreviewError(Exception):
    """Base class: the CLI prints ``str(exc)`` on one line and exits non-zero."""

    exit_code: int = 1


class InputError(FmreviewError):
    """Bad user input (a file, a record, an option value)."""

    exit_code = 2


class RecordError(InputError):
    """One malformed record.

    Parameters
    ----------
    file : str
        The file the record came from.
    record : int | None
        1-based record number within the file.
    line : int | None
        1-based line number where the record (or field) starts, when known.
    field : str | None
        The field (tag, column, key) that is wrong.
    found : str | None
        What was found (shortened).
    expected : str | None
        What was expected.
    """

    def __init__(
        self,
        file: str,
        *,
        record: int | None = None,
        line: int | None = None,
        field: str | None = None,
        found: str | None = None,
        expected: str | None = None,
        message: str | None = None,
    ) -> None:
        self.file = file
        self.record = record
        self.line = line
        self.field = field
        self.found = found
        self.expected = expected
        self.detail = message
        where = [file]
        if line is not None:
            where.append(f"line {line}")
        if record is not None:
            where.append(f"record {record}")
        parts = [
            ": ".join(
                [" ".join(where[:1]) + (" " + ", ".join(where[1:]) if len(where) > 1 else "")]
            )
        ]
        detail = []
        if field is not None:
            detail.append(f"field {field!r}")
        if found is not None:
            short = found if len(found) <= 60 else found[:57] + "..."
            detail.append(f"holds {short!r}")
        if expected is not None:
            detail.append(f"expected {expected}")
        text = parts[0]
        if detail:
            text += ": " + " ".join(detail)
        if message:
            text += f" ({message})" if detail else f": {message}"
        super().__init__(text)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # keyword-only __init__: rebuild from the fields (pickling across worker processes)
        return (
            _rebuild_record_error,
            (self.file, self.record, self.line, self.field, self.found, self.expected, self.detail),
        )

    def shifted(self, *, lines: int = 0, records: int = 0) -> RecordError:
        """The same error for a chunk that starts ``lines``/``records`` into its file."""
        return RecordError(
            self.file,
            record=None if self.record is None else self.record + records,
            line=None if self.line is None else self.line + lines,
            field=self.field,
            found=self.found,
            expected=self.expected,
            message=self.detail,
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "record": self.record,
            "line": self.line,
            "field": self.field,
            "found": self.found,
            "expected": self.expected,
            "message": str(self),
        }


def _rebuild_record_error(file, record, line, field, found, expected, detail):  # type: ignore[no-untyped-def]
    return RecordError(
        file, record=record, line=line, field=field, found=found, expected=expected, message=detail
    )


class FormatError(FmreviewError):
    """A file whose format is unknown, unsupported or unreadable."""

    exit_code = 2


class ProtocolError(FmreviewError):
    """A protocol that does not validate."""

    exit_code = 2


class StoreError(FmreviewError):
    """The review store cannot be opened, migrated or written."""


class SourceError(FmreviewError):
    """A literature source failed (after retries) or rejected a query."""


class StatsError(FmreviewError):
    """A statistical model that cannot be fitted as asked."""


class NotFoundError(FmreviewError):
    """A named thing does not exist; the message lists what does."""

    exit_code = 2


class ForbiddenError(FmreviewError):
    """The action is not allowed: the user's role, or the review's rules (blinding, what was
    assigned to whom, what the dedupe step proposed). The web app answers 403."""

    exit_code = 2


def unknown_name(kind: str, name: str, available: list[str] | tuple[str, ...]) -> NotFoundError:
    """Build the standard 'Unknown X 'y'; available: a, b' error."""
    return NotFoundError(f"Unknown {kind} {name!r}; available: {', '.join(sorted(available))}")


def build_by_name(
    kind: str,
    registry: Mapping[str, Callable[..., T]],
    name: str,
    params: Mapping[str, Any],
    *,
    also: Iterable[str] = (),
) -> T:
    """Build ``registry[name](**params)`` for a component chosen by name (a ranker, a
    query strategy, a stopping rule). A wrong name lists the available ones (and the
    aliases in ``also``); a wrong parameter names the component."""
    if name not in registry:
        raise unknown_name(kind, name, [*registry, *also])
    try:
        return registry[name](**params)
    except TypeError as exc:
        raise InputError(f"{kind} {name!r}: {exc}") from exc
