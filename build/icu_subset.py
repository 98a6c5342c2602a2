"""A smaller ICU data library for the bundle: libQt6Core links ICU, whose data library is 31 MB, nearly all
of it unused by a tray app (dictionaries for Chinese, Thai, Khmer… word breaks, hundreds of locales'
names of currencies, units, zones and languages, legacy code pages, transliteration). Qt formats numbers
and dates from its own tables; it asks ICU for collation, locale case mapping and codecs.

``subset_library(src, out, languages)`` reads the ICU common data (``icudt<NN>_dat``) out of ``src``, keeps the
root and the given languages' items plus the locale-independent ones, and links a new library with the
same soname with binutils (``as``, ``ld``). Used by crystal_manager.spec; the bundle's smoke tests run on it.
"""

from __future__ import annotations

import re
import struct
import subprocess
import tempfile
from pathlib import Path

LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Za-z0-9]+)*$")
#: Whole groups a tray app never asks ICU for (Qt has its own names, currencies, units and zones).
DROPPED_GROUPS = {"curr", "lang", "region", "unit", "zone", "rbnf", "translit"}


def _elf_symbol(lib: bytes, name: bytes) -> tuple[int, int]:
    """(file offset, size) of a defined symbol in a 64-bit little-endian ELF shared library."""
    shoff, = struct.unpack_from("<Q", lib, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", lib, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", lib, shoff + i * shentsize) for i in range(shnum)]
    for _name, kind, _f, _a, off, size, link, _i, _al, entsize in sections:
        if kind != 11:  # SHT_DYNSYM
            continue
        strtab = sections[link][4]
        for at in range(off, off + size, entsize):
            st_name, _info, _other, shndx, value, st_size = struct.unpack_from("<IBBHQQ", lib, at)
            end = lib.index(b"\0", strtab + st_name)
            if lib[strtab + st_name:end] == name and shndx:
                sec = sections[shndx]
                return value - sec[3] + sec[4], st_size  # address → file offset through its section
    raise ValueError(f"no symbol {name.decode()}")


def read_items(blob: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The header and the (name, data) items of ICU common data (the ``CmnD`` table of contents)."""
    header_size, = struct.unpack_from("<H", blob, 0)
    toc = blob[header_size:]
    count, = struct.unpack_from("<I", toc, 0)
    entries = [struct.unpack_from("<II", toc, 4 + 8 * i) for i in range(count)]
    items = []
    for i, (name_at, data_at) in enumerate(entries):
        end = entries[i + 1][1] if i + 1 < count else len(toc)
        items.append((toc[name_at:toc.index(b"\0", name_at)].decode(), toc[data_at:end]))
    return blob[:header_size], items


def write_items(header: bytes, items: list[tuple[str, bytes]]) -> bytes:
    """ICU common data from items (kept in their sorted order: ICU looks names up by binary search)."""
    names = b"".join(name.encode() + b"\0" for name, _ in items)
    names_at = 4 + 8 * len(items)
    data_at = (names_at + len(names) + 15) & ~15
    entries, data, name_off = [], bytearray(), names_at
    for name, item in items:
        entries.append(struct.pack("<II", name_off, data_at + len(data)))
        name_off += len(name.encode()) + 1
        data += item + b"\xaa" * (-len(item) % 16)  # every item 16-aligned and padded as ICU lays them out
    toc = struct.pack("<I", len(items)) + b"".join(entries) + names
    return header + toc + b"\xaa" * (data_at - len(toc)) + bytes(data)


def wanted(name: str, languages: set[str]) -> bool:
    """Keep ``name`` (``icudtNNl/group/item``)?"""
    parts = name.split("/")[1:]
    group, item = (parts[0], parts[-1]) if len(parts) > 1 else ("", parts[0])
    stem, _, ext = item.rpartition(".")
    if group in DROPPED_GROUPS or ext == "cnv" or item.endswith(".dict") or item == "unames.icu":
        return False
    if ext != "res" or stem in ("root", "res_index", "pool") or not LOCALE.match(stem):
        return True  # rules, normalization, collation base, locale-independent tables
    return stem.split("_")[0] in languages


def subset_library(src: Path, out: Path, languages: set[str]) -> tuple[int, int]:
    """Write the smaller library to ``out``; return (bytes of data before, after)."""
    lib = src.read_bytes()
    match = re.search(rb"icudt(\d+)_dat", lib)
    if match is None:
        raise ValueError(f"{src} holds no ICU common data")
    symbol = match.group(0)
    offset, size = _elf_symbol(lib, symbol)
    header, items = read_items(lib[offset:offset + size])
    blob = write_items(header, [(n, d) for n, d in items if wanted(n, languages | {"en"})])
    soname = src.name
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "icu.dat").write_bytes(blob)
        asm = Path(tmp) / "icu.s"
        sym = symbol.decode()
        asm.write_text(f'.section .rodata\n.globl {sym}\n.type {sym}, @object\n.balign 16\n{sym}:\n'
                       f'.incbin "{Path(tmp) / "icu.dat"}"\n.size {sym}, .-{sym}\n'
                       '.section .note.GNU-stack,"",@progbits\n')
        subprocess.run(["as", "-o", str(Path(tmp) / "icu.o"), str(asm)], check=True)
        subprocess.run(["ld", "-shared", "-soname", soname, "-o", str(out), str(Path(tmp) / "icu.o")], check=True)
    return size, len(blob)
