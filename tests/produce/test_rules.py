"""The rules a production's values and paths follow, one function at a time."""

from __future__ import annotations

import pytest

from crawler.errors import UsageError
from crawler.produce.bates import Numbering, check_prefix, native_extension
from crawler.produce.dat import FIELDS, dat_header, dat_record
from tests.produce.support import parse_dat


@pytest.mark.parametrize(
    ("name", "ext"),
    [
        ("spec.PDF", "pdf"),
        ("archive.tar.gz", "gz"),
        ("../../etc/passwd", ""),
        ("../../x", ""),
        ("dir/sub\\file.txt", "txt"),
        ("CON", ""),
        ("..", ""),
        (".bashrc", ""),
        ("résumé 日本語 \u202etxt.exe", "exe"),
        ("evil.\u202efdp", ""),
        ("name.a/b", ""),
        ("x." + "a" * 11, ""),
        ("nul\x00byte.bin", "bin"),
        (None, ""),
    ],
)
def test_only_a_plain_extension_reaches_a_path(name: object, ext: str) -> None:
    assert native_extension(name) == ext


@pytest.mark.parametrize("prefix", ["ACME1", "A B", "[ACME]", "ACME ", "", "1ACME", "AC/ME"])
def test_prefixes_that_break_numbers_or_paths_are_refused(prefix: str) -> None:
    with pytest.raises(UsageError):
        check_prefix(prefix)


def test_numbers_are_fixed_width_and_never_overflow() -> None:
    n = Numbering("ACME_", 4, 9998, "VOL001")
    assert n.label(9999) == "ACME_9999"
    assert n.native_path(9999, "") == "VOL001/NATIVES/0001/ACME_9999"
    with pytest.raises(UsageError, match="--digits"):
        n.label(10000)


def test_a_hostile_value_survives_the_dat_rules() -> None:
    values = dict.fromkeys(FIELDS, "")
    values["FILENAME"] = "þorn þþ\r\nCRLF\rCR\nLF\x14DC4\x00NUL\\back"
    header, (record,) = parse_dat(dat_header() + dat_record(values))
    assert header == list(FIELDS)
    # Newlines of any kind read back as one newline each; DC4 cannot be carried and is gone.
    assert record["FILENAME"] == "þorn þþ\nCRLF\nCR\nLF" + "DC4\x00NUL\\back"


def test_a_record_without_every_field_is_refused() -> None:
    with pytest.raises(ValueError, match="missing"):
        dat_record({"BEGBATES": "ACME000000001"})
