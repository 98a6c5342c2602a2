"""The vendor's privacy policy, shipped inside the package (resources/policy/privacy-policy.txt), and its
sections by the names the catalog uses (``§2C``, ``§4``…), so the Privacy page quotes the policy's own
words rather than a paraphrase."""

from __future__ import annotations

import re
from functools import cache

_TOP = re.compile(r"^([0-9]{1,2})\. (.+)$")
_SUB = re.compile(r"^([A-Z])\. (.+)$")


@cache
def policy_text() -> str:
    """The whole policy as shipped (found with importlib.resources, wherever the package is installed)."""
    from importlib.resources import files

    return files("crystal_manager.resources").joinpath("policy", "privacy-policy.txt").read_text(encoding="utf-8")


@cache
def sections() -> dict[str, tuple[str, tuple[str, ...]]]:
    """``{"§4": (title, lines), "§2C": (title, lines), …}`` parsed from the policy's numbered headings."""
    found: dict[str, tuple[str, list[str]]] = {}
    top = ""
    current: list[str] | None = None
    for raw in policy_text().splitlines():
        line = raw.strip()
        if not line:
            continue
        if (match := _TOP.match(line)) is not None:
            top = match.group(1)
            found["§" + top] = (match.group(2), current := [])
        elif top and (match := _SUB.match(line)) is not None:
            found[f"§{top}{match.group(1)}"] = (match.group(2), current := [])
            found["§" + top][1].append(line)
        elif current is not None:
            current.append(line)
    return {name: (title, tuple(lines)) for name, (title, lines) in found.items()}


def section_title(name: str) -> str:
    """The policy's own heading for section ``name`` ("License & Software Data"), or ``name`` if unknown."""
    return sections().get(name, (name, ()))[0]


def section_words(name: str) -> str:
    """The policy's own words for section ``name``: its heading and lines, as one paragraph."""
    title, lines = sections().get(name, (name, ()))
    return title + ": " + " · ".join(lines) if lines else title
