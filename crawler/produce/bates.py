"""Bates numbers, volume names, and the only paths a production writes.

Every path in a volume is built here from a Bates number, the volume name and
a checked extension: a name from the API never reaches one
(``native_extension`` takes at most a short run of ASCII letters and digits
from the end of a filename, and only that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crawler.errors import UsageError

__all__ = [
    "FOLDER_SIZE",
    "Numbering",
    "check_prefix",
    "check_volume",
    "link",
    "native_extension",
]

FOLDER_SIZE = 1000  # files per NATIVES/TEXT subfolder (PRODUCTION.md: "at most about 1,000")
_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,23}")
_VOLUME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_EXT = re.compile(r"[A-Za-z0-9]{1,10}")
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])", re.IGNORECASE)


def check_prefix(prefix: str) -> str:
    """A Bates prefix: a letter first, then letters, digits, ``_`` or ``-``; not ending in a digit.

    Stricter than the platforms need (no spaces, no brackets, no other
    punctuation) because the prefix is also part of every file name.
    """
    if not _PREFIX.fullmatch(prefix) or prefix[-1].isdigit():
        raise UsageError(
            f"--prefix {prefix!r}: up to 24 letters, digits, '_' or '-', starting with a letter "
            "and not ending in a digit (e.g. ACME or ACME_)"
        )
    return prefix


def check_volume(volume: str) -> str:
    if not _VOLUME.fullmatch(volume) or _RESERVED.fullmatch(volume):
        raise UsageError(
            f"--volume {volume!r}: up to 32 letters, digits, '_' or '-' (not a Windows "
            "reserved name such as CON or NUL)"
        )
    return volume


def native_extension(filename: object) -> str:
    """The lowercase extension of an API filename, if it is a plain one, else ``""``.

    Only what follows the last ``.`` of the last path segment (either slash),
    and only 1 to 10 ASCII letters or digits: ``../../x``, ``CON`` or ``a.<RLO>txt``
    have none.
    """
    if not isinstance(filename, str):
        return ""
    last = re.split(r"[/\\]", filename)[-1]
    stem, dot, ext = last.rpartition(".")
    if not dot or not stem.strip(".") or not _EXT.fullmatch(ext):
        return ""
    return ext.lower()


@dataclass(frozen=True)
class Numbering:
    """The numbers of one production: ``prefix`` + ``digits``-wide numbers from ``first``."""

    prefix: str
    digits: int
    first: int
    volume: str

    def __post_init__(self) -> None:
        if not 1 <= self.digits <= 15:
            raise UsageError(f"--digits {self.digits}: between 1 and 15")
        if self.first < 1:
            raise UsageError(f"--start {self.first}: numbers start at 1 or above")

    def label(self, number: int) -> str:
        if number >= 10**self.digits:
            raise UsageError(
                f"Bates number {number} does not fit in {self.digits} digits: use a larger --digits"
            )
        return f"{self.prefix}{number:0{self.digits}d}"

    def folder(self, number: int) -> str:
        """The subfolder (``0001``, ...) of a number: at most FOLDER_SIZE per folder."""
        return f"{(number - self.first) // FOLDER_SIZE + 1:04d}"

    def native_path(self, number: int, ext: str) -> str:
        name = self.label(number) + (f".{ext}" if ext else "")
        return f"{self.volume}/NATIVES/{self.folder(number)}/{name}"

    def text_path(self, number: int) -> str:
        return f"{self.volume}/TEXT/{self.folder(number)}/{self.label(number)}.txt"

    def data_path(self, name: str) -> str:
        return f"{self.volume}/DATA/{self.volume}{name}"


def link(path: str) -> str:
    """A volume path as a load file names it: relative, backslash-separated."""
    return ".\\" + path.replace("/", "\\")
