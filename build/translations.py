"""Translations of the GUI: extract the strings for translators, compile what they translated.

Run from the repository root:
    python build/translations.py update de fr   # create or refresh .ts files in crystal_manager/resources/translations
    python build/translations.py release        # compile every .ts there into the .qm the app loads
    python build/translations.py pseudo DIR     # a pseudo-translation ("[[Quit]]") into DIR, to see what is not
                                                # translatable and how the layout takes longer words

English is the source language. ``pyside6-lupdate`` files the app's free ``tr()`` calls under the empty
context, which is the one the app looks up at run time (docs/decisions/0007). The app loads
``crystal_manager_<language>.qm`` for the user's languages from ``crystal_manager/resources/translations``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUI = ROOT / "crystal_manager" / "gui"
OUT = ROOT / "crystal_manager" / "resources" / "translations"
BASENAME = "crystal_manager"
PSEUDO = ("[[", "]]")  # what a pseudo-translation puts around each source text


def _tool(name: str) -> str:
    """A Qt tool shipped with PySide6, next to this Python first."""
    here = Path(sys.executable).parent / f"pyside6-{name}"
    found = str(here) if here.exists() else shutil.which(f"pyside6-{name}")
    if not found:
        raise SystemExit(f"translations: pyside6-{name} not found (install PySide6)")
    return found


def sources() -> list[Path]:
    """Every GUI source file lupdate reads."""
    return sorted(GUI.rglob("*.py"))


def extract(ts_file: Path) -> Path:
    """Create or refresh ``ts_file`` from the GUI sources (kept translations stay; gone strings are marked)."""
    ts_file.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_tool("lupdate"), *map(str, sources()), "-locations", "none", "-ts", str(ts_file)],
                   check=True, capture_output=True, text=True)
    return ts_file


def messages(ts_file: Path) -> set[tuple[str, str]]:
    """The (context, source text) pairs in ``ts_file``."""
    found: set[tuple[str, str]] = set()
    for context in ET.parse(ts_file).getroot().iter("context"):  # noqa: S314 - lupdate's output, ours
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            found.add((name, message.findtext("source") or ""))
    return found


def pseudo_translate(ts_file: Path, *, expand: float = 0.0) -> Path:
    """Fill every translation with ``[[source]]`` (placeholders and shortcuts keep working); ``expand``
    pads each text by that share of its length (0.4: German-like lengths) to show layouts that clip."""
    tree = ET.parse(ts_file)  # noqa: S314 - lupdate's output, ours
    for message in tree.getroot().iter("message"):
        translation = message.find("translation")
        if translation is None:
            translation = ET.SubElement(message, "translation")
        source = message.findtext("source") or ""
        count = round(len(source) * expand)  # in word-sized pieces: one 70-character "word" wraps nowhere
        padding = " ~~~~~" * (count // 6) + "~" * (count % 6)
        translation.text = f"{PSEUDO[0]}{source}{padding}{PSEUDO[1]}"
        translation.attrib.pop("type", None)
    tree.write(ts_file, encoding="utf-8", xml_declaration=True)
    return ts_file


def release(ts_file: Path) -> Path:
    """Compile ``ts_file`` into the ``.qm`` next to it."""
    qm_file = ts_file.with_suffix(".qm")
    subprocess.run([_tool("lrelease"), str(ts_file), "-qm", str(qm_file)], check=True, capture_output=True,
                   text=True)
    return qm_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    update = sub.add_parser("update", help="create or refresh crystal_manager_LANG.ts in "
                                                      "crystal_manager/resources/translations")
    update.add_argument("languages", nargs="+", metavar="LANG", help="language codes, e.g. de fr pt_BR")
    sub.add_parser("release", help="compile every .ts in crystal_manager/resources/translations")
    pseudo = sub.add_parser("pseudo", help="write a pseudo-translation (.ts and .qm) into DIR")
    pseudo.add_argument("folder", type=Path, metavar="DIR")
    pseudo.add_argument("--expand", type=float, default=0.0, help="pad texts by this share (e.g. 0.4)")
    args = parser.parse_args(argv)
    if args.command == "update":
        for language in args.languages:
            print(extract(OUT / f"{BASENAME}_{language}.ts"))
    elif args.command == "release":
        for ts_file in sorted(OUT.glob("*.ts")):
            print(release(ts_file))
    else:
        print(release(pseudo_translate(extract(args.folder / f"{BASENAME}_pseudo.ts"), expand=args.expand)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
