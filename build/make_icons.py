"""Generate the tray icons: an SVG per state and variant, rendered to PNG at every tray size with QtSvg.

Run from the repository root: ``python build/make_icons.py`` (needs PySide6; uses the offscreen platform).
Output: ``crystal_manager/resources/icons/{light,dark,template}/<state>.svg`` and ``<state>-<size>.png``,
plus the app icon.
``light`` is for light panels (dark glyph), ``dark`` for dark panels (light glyph), ``template`` is the
macOS mask (black with transparent cut-outs; the system tints it). Same input, same files.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "crystal_manager" / "resources" / "icons"
SIZES = (16, 22, 24, 32, 48, 64)
VARIANTS = {"light": "#37474f", "dark": "#eceff1", "template": "#000000"}

GEM = "M15,8 H49 L61,23 L32,58 L3,23 Z"
FACETS = "M3,23 H61 M15,8 L22,23 L32,8 L42,23 L49,8 M22,23 L32,58 L42,23"
CIRCLE = ('<circle cx="46" cy="46" r="16" fill="{fill}"{extra}/>', '<circle cx="46" cy="46" r="20" fill="black"/>')
TRIANGLE = ('<path d="M46,27 L63,61 H29 Z" fill="{fill}" stroke="{fill}" stroke-width="2" '
            'stroke-linejoin="round"{extra}/>',
            '<path d="M46,27 L63,61 H29 Z" fill="black" stroke="black" stroke-width="9" stroke-linejoin="round"/>')

# state: (badge colour, badge shape, symbol drawn in {c})
BADGES: dict[str, tuple[str, tuple[str, str], str]] = {
    "starting": ("#8a8f98", CIRCLE, '<circle cx="39" cy="46" r="2.6" fill="{c}"/><circle cx="46" cy="46" r="2.6" '
                 'fill="{c}"/><circle cx="53" cy="46" r="2.6" fill="{c}"/>'),
    "active": ("#2e8b4a", CIRCLE, '<path d="M38,46.5 L44,52.5 L54.5,40.5" fill="none" stroke="{c}" '
               'stroke-width="4.2" stroke-linecap="round" stroke-linejoin="round"/>'),
    "expiring": ("#c98a00", CIRCLE, '<circle cx="46" cy="46" r="9" fill="none" stroke="{c}" stroke-width="3"/>'
                 '<path d="M46,40 V46.5 L50.5,49.5" fill="none" stroke="{c}" stroke-width="3" '
                 'stroke-linecap="round"/>'),
    "trial": ("#2f6fd0", CIRCLE, '<path d="M38.5,38 H53.5 V42 H48 V55 H44 V42 H38.5 Z" fill="{c}"/>'),
    "grace": ("#d86a00", CIRCLE, '<path d="M39,37 H53 L46,46 L53,55 H39 L46,46 Z" fill="{c}"/>'),
    "locked": ("#c62828", CIRCLE, '<path d="M41,45 V41.5 A5,5 0 0 1 51,41.5 V45" fill="none" stroke="{c}" '
               'stroke-width="3"/><rect x="38" y="44" width="16" height="11.5" rx="2" fill="{c}"/>'),
    "update": ("#6a3fc8", CIRCLE, '<path d="M46,36.5 L55,46 H49.8 V55.5 H42.2 V46 H37 Z" fill="{c}"/>'),
    "downloading": ("#1f7a99", CIRCLE, '<path d="M46,52 L37,43 H42.2 V36 H49.8 V43 H55 Z" fill="{c}"/>'
                    '<rect x="37" y="54" width="18" height="3.2" fill="{c}"/>'),
    "error": ("#d32f2f", TRIANGLE, '<rect x="44" y="37" width="4" height="13" rx="1" fill="{c}"/>'
              '<circle cx="46" cy="55" r="2.4" fill="{c}"/>'),
}


def make_svg(state: str, variant: str) -> str:
    """The SVG text of one state's icon in one variant."""
    colour, (shape, cut), symbol = BADGES[state]
    glyph = VARIANTS[variant]
    template = variant == "template"
    defs = (f'<mask id="cut"><rect width="64" height="64" fill="white"/>{cut}'
            f'<path d="{FACETS}" fill="none" stroke="black" stroke-width="2.2" stroke-linejoin="round"/></mask>')
    if template:
        defs += f'<mask id="sym">{shape.format(fill="white", extra="")}{symbol.format(c="black")}</mask>'
        badge = shape.format(fill="#000000", extra=' mask="url(#sym)"')
    else:
        badge = shape.format(fill=colour, extra="") + symbol.format(c="#ffffff")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
            f'<defs>{defs}</defs><path d="{GEM}" fill="{glyph}" mask="url(#cut)"/>{badge}</svg>\n')


def make_app_svg() -> str:
    """The window / launcher icon: the gem alone, in colour."""
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
            '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#5ec8f2"/>'
            '<stop offset="1" stop-color="#3056d3"/></linearGradient></defs>'
            f'<path d="{GEM}" fill="url(#g)"/><path d="{FACETS}" fill="none" stroke="#ffffff" '
            'stroke-opacity="0.75" stroke-width="2" stroke-linejoin="round"/></svg>\n')


def render(svg: str, size: int, path: Path) -> None:
    """Rasterise ``svg`` to a ``size``-pixel square PNG."""
    from PySide6.QtCore import QByteArray, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(QByteArray(svg.encode()))
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    # The format comes from the ".png" suffix (PySide6 refuses format=b"PNG" at run time, its stubs refuse "PNG").
    if not image.save(str(path)):
        raise SystemExit(f"cannot write {path}")


def main() -> int:
    """Write every icon."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    count = 0
    for variant in VARIANTS:
        folder = OUT / variant
        folder.mkdir(parents=True, exist_ok=True)
        for state in BADGES:
            svg = make_svg(state, variant)
            (folder / f"{state}.svg").write_text(svg, encoding="utf-8")
            for size in SIZES:
                render(svg, size, folder / f"{state}-{size}.png")
                count += 1
    app_svg = make_app_svg()
    (OUT / "app.svg").write_text(app_svg, encoding="utf-8")
    for size in (*SIZES, 128, 256):
        render(app_svg, size, OUT / f"app-{size}.png")
        count += 1
    del app
    print(f"wrote {count} PNGs under {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
