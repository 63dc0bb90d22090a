"""Reading text files and tidying extracted text, shared by every text-based loader."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ingest.errors import UnreadableFileError

T = TypeVar("T")
SNIFF_BYTES = 8192
TRAILING_SPACE = re.compile(r"[ \t]+\n")
BLANK_RUNS = re.compile(r"\n{3,}")


def read_bytes(path: Path, source: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(source, f"cannot be read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise UnreadableFileError(source, "the file is empty")
    return data


def open_package(
    path: Path, source: str, opener: Callable[[str], T], what: str, errors: tuple[type[Exception], ...]
) -> T:
    """Open an Office file (a zip package); a file that is not one is a clear error."""
    read_bytes(path, source)
    try:
        return opener(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, *errors) as exc:
        raise UnreadableFileError(source, f"not a readable {what} file ({type(exc).__name__}: {exc})") from exc


def decode_text(data: bytes, source: str, encoding: str = "utf-8-sig") -> str:
    if b"\x00" in data[:SNIFF_BYTES]:
        raise UnreadableFileError(source, "binary content in a text file (is the extension right?)")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            source, f"not {encoding.upper().removesuffix('-SIG')} text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}); re-save it as UTF-8"
        ) from exc
    except LookupError as exc:
        raise UnreadableFileError(source, f"declares an unknown text encoding {encoding!r}") from exc


def read_text(path: Path, source: str) -> str:
    """A UTF-8 text file's content; an empty, binary or non-UTF-8 file is a clear error."""
    return decode_text(read_bytes(path, source), source)


def tidy(text: str) -> str:
    """Trailing spaces off, runs of blank lines down to one; indentation kept for code."""
    return BLANK_RUNS.sub("\n\n", TRAILING_SPACE.sub("\n", text.replace("\r\n", "\n").replace("\r", "\n"))).strip()


def title_from_stem(path: Path) -> str:
    """`week-2_loops.pdf` -> `week 2 loops`."""
    return re.sub(r"[_\-]+", " ", path.stem).strip() or path.name
