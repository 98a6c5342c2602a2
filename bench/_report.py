"""What every benchmark hands to ``bench/run_all.py``: ``--smoke``, ``--json PATH`` and one JSON shape.

{"id": "P8", "title": str, "rows": [{"name", "value", "unit", "baseline", "ratio", "goal", "met"}],
 "notes": [str]} — ``baseline``/``ratio`` when the figure is measured against a baseline in the same run,
``goal`` in words and ``met`` (None in a smoke run: tiny sizes prove that the bench runs, not the figure).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Row:
    """One figure."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    goal: str | None = None
    met: bool | None = None


@dataclass
class Report:
    """One benchmark's figures."""

    id: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    smoke: bool = False

    def add(self, name: str, value: float, unit: str, *, baseline: float | None = None, ratio: float | None = None,
            goal: str | None = None, met: bool | None = None) -> None:
        """Add a row; in a smoke run no goal is judged (``met`` stays None)."""
        self.rows.append(Row(name, round(value, 4), unit, None if baseline is None else round(baseline, 4),
                             None if ratio is None else round(ratio, 4), goal, None if self.smoke else met))

    def write(self, path: Path | None) -> None:
        """Write the JSON file (nothing without a path)."""
        if path is None:
            return
        data = {"id": self.id, "title": self.title, "rows": [asdict(row) for row in self.rows], "notes": self.notes,
                "smoke": self.smoke}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--smoke`` and ``--json PATH``, the same for every bench."""
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes and 1-2 runs: proves the bench runs (no goal judged), in seconds")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON here")
