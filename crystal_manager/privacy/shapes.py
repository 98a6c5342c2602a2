"""Value shapes: what each declared datum may look like, and the one check the gateway runs on every value.

The catalog declares a :class:`Shape` for every field and header (type, then a format pattern or a list
of allowed values, a maximum length, and for objects every member by name). ``problem`` checks a value
against its shape and says in words what is wrong; the gateway refuses a request with any problem before
a connection is opened. Declarative on purpose: the catalog is the schema, so the Privacy page, the
protocol document and the check read one set of facts (decision 0010 says why no schema library).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

ShapeType = Literal["text", "integer", "object"]

#: Deepest nesting a value may have: a declared object holding declared members, no further.
MAX_DEPTH = 4


@dataclass(frozen=True)
class Member:
    """One declared member of an object-shaped value."""

    name: str
    shape: Shape
    purpose: str
    required: bool = True


@dataclass(frozen=True)
class Shape:
    """What one value may look like. Text always has a maximum length; objects list every member."""

    type: ShapeType
    max_length: int = 0
    pattern: str = ""
    enum: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = 0
    members: tuple[Member, ...] = field(default=())
    note: str = ""

    def describe(self) -> str:
        """The shape in a few words, for the protocol document and the Privacy page."""
        if self.note:
            return self.note
        if self.type == "integer":
            return f"whole number {self.minimum} to {self.maximum}"
        if self.type == "object":
            return "object with " + ", ".join(f"`{m.name}`" for m in self.members)
        if self.enum:
            return "one of " + ", ".join(f"`{value}`" for value in self.enum)
        return f"text, at most {self.max_length} characters"


def text(max_length: int, pattern: str = "", note: str = "") -> Shape:
    """Text of at most ``max_length`` characters, matching ``pattern`` (whole value) when one is given."""
    return Shape("text", max_length=max_length, pattern=pattern, note=note)


def one_of(*values: str) -> Shape:
    """Exactly one of ``values``."""
    return Shape("text", max_length=max(len(v) for v in values), enum=values)


def integer(minimum: int, maximum: int) -> Shape:
    """A whole number (not a boolean) from ``minimum`` to ``maximum``."""
    return Shape("integer", minimum=minimum, maximum=maximum)


def obj(*members: Member) -> Shape:
    """An object holding only ``members``."""
    return Shape("object", members=members)


def _text_problem(shape: Shape, value: Any, where: str) -> str | None:
    if not isinstance(value, str):
        return f"{where} must be text, not {type(value).__name__}"
    if len(value) > shape.max_length:
        return f"{where} is {len(value)} characters long; at most {shape.max_length} are declared"
    if shape.enum and value not in shape.enum:
        return f"{where} is not one of the declared values ({', '.join(shape.enum)})"
    if shape.pattern and re.fullmatch(shape.pattern, value) is None:
        return f"{where} does not have the declared format"
    return None


def problem(shape: Shape, value: Any, where: str, depth: int = 0) -> str | None:
    """Why ``value`` does not fit ``shape`` (naming ``where``), or None when it fits."""
    if depth > MAX_DEPTH:
        return f"{where} is nested deeper than anything declared"
    if shape.type == "text":
        return _text_problem(shape, value, where)
    if shape.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{where} must be a whole number, not {type(value).__name__}"
        if not shape.minimum <= value <= shape.maximum:
            return f"{where} is outside the declared range {shape.minimum} to {shape.maximum}"
        return None
    if not isinstance(value, dict):
        return f"{where} must be an object, not {type(value).__name__}"
    declared = {m.name: m for m in shape.members}
    for name, member_value in value.items():
        member = declared.get(name) if isinstance(name, str) else None
        if member is None:
            return f"{where}.{name} is not declared in the data catalog"
        found = problem(member.shape, member_value, f"{where}.{name}", depth + 1)
        if found is not None:
            return found
    missing = [m.name for m in shape.members if m.required and m.name not in value]
    if missing:
        return f"{where}.{missing[0]} is required but missing"
    return None
