"""The one way Equipoise reads a file a person names: a protocol, a CSV, a JSON design, a natural history.

Every such file passes the same checks before any parser sees it, so a bad file is refused with its name (and
line, where there is one) instead of hanging, exhausting memory or ending in a traceback:

- it must be a regular file: a directory, a FIFO or a device (``/dev/zero``) is refused before it is opened;
- it must be at most a size limit (``MAX_PROTOCOL_BYTES`` for YAML and JSON, ``MAX_DATA_BYTES`` for CSV);
  the limit is enforced on what is read as well as on the size the file system reports;
- it must be UTF-8 (a byte-order mark is dropped); a bad byte is named with its line;
- it must hold no control characters but tab, line feed and carriage return (a NUL byte usually means a binary
  file or a spreadsheet saved in its own format); the first is named with its line.

References: CWE-400 (uncontrolled resource consumption), CWE-20 (improper input validation).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from equipoise.errors import UserError

# A protocol with hundreds of sites and forms is well under 1 MB; four leaves room and still bounds the parser.
MAX_PROTOCOL_BYTES = 4 * 1024 * 1024
# A patient-level CSV of a large trial (100,000 patients x 200 columns) is about 200 MB.
MAX_DATA_BYTES = 512 * 1024 * 1024

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class UnreadableFileError(UserError):
    """A file that cannot be read as text: the file, the line where known, and why."""

    def __init__(self, file: str, reason: str, line: int | None = None, option: str | None = None) -> None:
        self.file, self.reason, self.line, self.option = file, reason, line, option
        where = f"{file}: line {line}" if line is not None else file
        super().__init__(f"{option}: {where}: {reason}" if option else f"{where}: {reason}")


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n < 10 * 1024 * 1024 else f"{n // (1024 * 1024)} MB"


def require_regular_file(path: str | Path, *, option: str | None = None) -> os.stat_result:
    """The file's status if it is a regular file; a missing file, a directory, a FIFO or a device (which would
    block or never end when read) is an ``UnreadableFileError``. For binary files read by their own code."""
    name = str(path)
    if "\x00" in name:
        raise UnreadableFileError(repr(name), "a file name cannot contain a NUL character", option=option)
    try:
        info = os.stat(name)
    except FileNotFoundError:
        raise UnreadableFileError(name, "file not found" if option else "no such file", option=option) from None
    except OSError as exc:
        raise UnreadableFileError(name, f"cannot read the file: {exc.strerror or exc}", option=option) from None
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableFileError(name, "is a directory, not a file", option=option)
    if not stat.S_ISREG(info.st_mode):
        # a FIFO would block and a device such as /dev/zero never ends: never open them
        raise UnreadableFileError(name, "is not a regular file (a device, pipe or socket)", option=option)
    return info


def read_user_bytes(path: str | Path, *, max_bytes: int = MAX_PROTOCOL_BYTES, option: str | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else is an ``UnreadableFileError``."""
    name = str(path)
    info = require_regular_file(path, option=option)
    if info.st_size > max_bytes:
        raise UnreadableFileError(name, f"is {_megabytes(info.st_size)}; the limit for this file is "
                                  f"{_megabytes(max_bytes)}", option=option)
    try:
        with open(name, "rb") as handle:
            data = handle.read(max_bytes + 1)  # a file that grows (or lies about its size) is still bounded
    except OSError as exc:
        raise UnreadableFileError(name, f"cannot read the file: {exc.strerror or exc}", option=option) from None
    if len(data) > max_bytes:
        raise UnreadableFileError(name, f"is larger than the limit for this file ({_megabytes(max_bytes)})",
                                  option=option)
    return data


def decode_user_text(data: bytes, name: str, option: str | None = None) -> str:
    """UTF-8 text without a byte-order mark or control characters; a bad byte or character named with its line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnreadableFileError(name, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded; save "
                                  "the file as UTF-8)", line=line, option=option) from None
    check_control_characters(text, name, option)
    return text


def check_control_characters(text: str, name: str, option: str | None = None) -> None:
    """Refuse text holding control characters other than tab, line feed and carriage return."""
    found = CONTROL_CHARACTERS.search(text)
    if found is None:
        return
    line = text.count("\n", 0, found.start()) + 1
    what = "a NUL byte (is it a binary file?)" if found.group() == "\x00" else \
        f"the control character U+{ord(found.group()):04X}"
    raise UnreadableFileError(name, f"contains {what}; only tab and line breaks are allowed", line=line,
                              option=option)


def read_user_text(path: str | Path, *, max_bytes: int = MAX_PROTOCOL_BYTES, option: str | None = None) -> str:
    """The text of a file a person named, after every check in this module's docstring."""
    return decode_user_text(read_user_bytes(path, max_bytes=max_bytes, option=option), str(path), option)
