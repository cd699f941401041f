"""Problems found in a protocol file, each tied to a file, a line and a field path."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from equipoise.errors import UserError

Path = tuple[str | int, ...]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


def format_path(path: Path) -> str:
    """Render ("arms", 2, "allocation") as ``arms[2].allocation``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or doubtful) in a protocol file."""

    path: Path
    message: str
    severity: Severity = Severity.ERROR
    file: str | None = None
    line: int | None = None

    @property
    def field(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        where = self.file or "<protocol>"
        if self.line is not None:
            where += f":{self.line}"
        label = "" if self.severity is Severity.ERROR else "warning: "
        field_text = f" {self.field}:" if self.path else ":"
        return f"{where}{field_text} {label}{self.message}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "severity": self.severity.value,
            "message": self.message,
        }


@dataclass
class InvalidProtocolError(UserError):
    """A protocol file that cannot be used; carries every problem found, not just the first."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.errors)
