"""The bundle's smaller ICU data library (build/icu_subset.py): the data format round-trips byte for byte,
the subset keeps what Qt asks ICU for, and Qt works on it (collation, locale case mapping, time zones)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import PySide6
import pytest

from tests.build.smoke import ROOT

sys.path.insert(0, str(ROOT / "build"))
import icu_subset

sys.path.remove(str(ROOT / "build"))

PYSIDE = Path(PySide6.__path__[0])
ICU_LIBS = sorted((PYSIDE / "Qt" / "lib").glob("libicudata.so.*"))
pytestmark = pytest.mark.skipif(not ICU_LIBS or shutil.which("ld") is None,
                                reason="needs PySide6's ICU (Linux wheels) and binutils")


def test_reading_and_writing_the_data_round_trips() -> None:
    lib = ICU_LIBS[0].read_bytes()
    offset, size = icu_subset._elf_symbol(lib, b"icudt" + ICU_LIBS[0].name.rsplit(".", 1)[1].encode() + b"_dat")
    blob = lib[offset:offset + size]
    header, items = icu_subset.read_items(blob)
    assert len(items) > 1000 and items == sorted(items, key=lambda item: item[0])
    assert icu_subset.write_items(header, items) == blob


def test_what_is_kept() -> None:
    keep = {"en", "de"}
    for name in ("icudt73l/root.res", "icudt73l/en_GB.res", "icudt73l/de.res", "icudt73l/coll/ucadata.icu",
                 "icudt73l/coll/de.res", "icudt73l/brkitr/word.brk", "icudt73l/nfkc.nrm", "icudt73l/cnvalias.icu",
                 "icudt73l/likelySubtags.res", "icudt73l/res_index.res", "icudt73l/coll/res_index.res"):
        assert icu_subset.wanted(name, keep), name
    for name in ("icudt73l/fr.res", "icudt73l/coll/zh.res", "icudt73l/brkitr/cjdict.dict", "icudt73l/gb18030.cnv",
                 "icudt73l/zone/en.res", "icudt73l/translit/root.res", "icudt73l/unames.icu"):
        assert not icu_subset.wanted(name, keep), name


@pytest.fixture(scope="module")
def pyside_on_subset() -> Iterator[Path]:
    """A copy of PySide6 (its libraries find each other by $ORIGIN) with the smaller ICU data library; outside
    pytest's temporary folder, which the last test scans for secrets, and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="crystal-pyside-") as tmp:
        yield from _copy(Path(tmp))


def _copy(top: Path) -> Iterator[Path]:
    shutil.copytree(PYSIDE, top / "PySide6", symlinks=True)
    shutil.copytree(PYSIDE.parent / "shiboken6", top / "shiboken6", symlinks=True)
    lib = top / "PySide6" / "Qt" / "lib" / ICU_LIBS[0].name
    before, after = icu_subset.subset_library(ICU_LIBS[0], lib, set())
    assert after < before / 5, (before, after)
    yield top


PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import PySide6
assert PySide6.__file__.startswith(sys.argv[1])
from PySide6.QtCore import QCollator, QLocale, QStringDecoder, QTimeZone
collator = QCollator(QLocale("en_US"))
print(sorted(["b", "A", "a", "B", "é", "e"], key=collator.sortKey))
print(QLocale("tr_TR").toUpper("i"), QLocale("en").toUpper("straße"), QLocale("de_DE").toString(1234.5))
print(QTimeZone(b"Europe/Berlin").isValid(), QStringDecoder("UTF-16").isValid(), QStringDecoder("Shift_JIS").isValid())
"""


def test_qt_works_on_the_smaller_data(pyside_on_subset: Path) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE, str(pyside_on_subset)], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.splitlines() == [
        "['a', 'A', 'b', 'B', 'e', 'é']",
        "İ STRASSE 1.234,5",
        "True True False",  # legacy code pages (Shift_JIS…) are gone: the app reads and writes UTF-8 only
    ]
