"""Translation works for real: every string the GUI asks Qt to translate is one that lupdate extracts (same
context, same text), and a compiled translation, loaded the way the app loads it, changes what people see.
A pseudo-translation ("[[Quit]]") stands in for a real language."""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtCore import QLocale, QTranslator
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from crystal_manager.gui.dialogs.activation import ActivationDialog
from crystal_manager.gui.language import candidates, install_translations
from crystal_manager.gui.window import PAGES
from tests.gui.conftest import MakeApp
from tests.support.fake_license import KEY
from tests.support.render import OUTPUT
from tests.support.render import save as save_png

ROOT = Path(__file__).resolve().parents[2]

# One worker runs the module under xdist: the pseudo-translation (pyside6-lupdate and pyside6-lrelease, ~1 s of
# CPU) is made once a run, not once per worker that gets one of the tests using it.
pytestmark = pytest.mark.xdist_group("language")


def build_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_translations", ROOT / "build" / "translations.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pseudo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[tuple[str, str]]]:
    """A pseudo-translation of the GUI made with build/translations.py, filed as Esperanto ("eo")."""
    tool = build_tool()
    ts_file = tool.extract(tmp_path_factory.mktemp("tr") / "crystal_manager_eo.ts")
    qm_file = tool.release(tool.pseudo_translate(ts_file))
    return qm_file, tool.messages(ts_file)


@pytest.fixture
def installed() -> Iterator[list[QTranslator]]:
    """Translators a test installs, removed afterwards (the QApplication outlives the test)."""
    made: list[QTranslator] = []
    yield made
    app = QApplication.instance()
    for translator in made:
        assert app is not None
        app.removeTranslator(translator)


def tr_calls(tree: ast.AST) -> Iterator[tuple[ast.Call, str | None]]:
    """Each ``tr(...)`` or ``QT_TR_NOOP(...)`` call with its text when that is a literal. (``self.tr`` counts
    too, and then fails the test: it looks up its class's context, not the app's one.)"""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name not in ("tr", "QT_TR_NOOP"):
            continue
        first = node.args[0]
        yield node, first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


# Calls that pass on a text marked elsewhere with QT_TR_NOOP (file, the line's code): nothing else may.
FORWARDERS = {("texts.py", "return tr(known) if known else state  # known: marked with QT_TR_NOOP above"),
              ("texts.py", "return tr(text) if text else text")}


def test_every_text_the_gui_translates_is_extracted_for_translators(
        pseudo: tuple[Path, set[tuple[str, str]]]) -> None:
    _qm_file, extracted = pseudo
    literal: dict[str, str] = {}
    not_literal: list[str] = []
    for path in sorted((ROOT / "crystal_manager" / "gui").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for call, text in tr_calls(ast.parse(source)):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            if text is not None:
                literal[text] = where
            elif (path.name, lines[call.lineno - 1].strip()) not in FORWARDERS:
                not_literal.append(where)
    assert not_literal == []  # lupdate cannot see these texts: translators would never get them
    assert len(literal) > 150
    # Free tr() looks up the empty context at run time (first_tray.CTX); lupdate must file them there.
    missing = {text: where for text, where in literal.items() if ("", text) not in extracted}
    assert missing == {}  # Python sees these tr() texts, lupdate does not: they would stay English


def test_a_compiled_translation_changes_what_people_see(
        make_app: MakeApp, pseudo: tuple[Path, set[tuple[str, str]]], installed: list[QTranslator]) -> None:
    qm_file, _extracted = pseudo
    app = QApplication.instance()
    assert app is not None
    installed += install_translations(app, languages=["eo"], folder=qm_file.parent)
    assert installed, "the pseudo-translation was not loaded"
    tray_app, _fake, _probe = make_app("active", tray=True)
    assert tray_app.tray is not None
    menu = [a.text() for a in tray_app.tray.menu.actions() if not a.isSeparator()]
    assert menu[-1] == "[[Quit]]" and menu[0].startswith("[[")
    window = tray_app.open_window("license")
    assert window.nav.item(0).text() == "[[License]]"
    assert tray_app.tray.icon.toolTip().splitlines()[0] == "[[CrystalMe3D Pro Manager]]"


@pytest.mark.parametrize(("languages", "expected"), [
    (["de-AT", "de", "en-US", "fr"], ["de_AT", "de"]),  # English comes before French: French is never needed
    (["en-GB", "de"], []),
    (["pt-BR", "fr-CA"], ["pt_BR", "pt", "fr_CA", "fr"]),  # Portuguese of any kind before French
    (["pt-Latn-BR", "pt-BR", "pt-Latn", "pt"], ["pt_Latn_BR", "pt_BR", "pt_Latn", "pt"]),  # Qt's own list
    ([], []),
])
def test_languages_are_tried_in_the_users_order_up_to_english(languages: list[str], expected: list[str]) -> None:
    assert candidates(languages) == expected


def test_a_regional_translation_wins_over_the_bare_language(qapp: QApplication, installed: list[QTranslator],
                                                            tmp_path: Path,
                                                            pseudo: tuple[Path, set[tuple[str, str]]]) -> None:
    qm_file, _extracted = pseudo
    (tmp_path / "crystal_manager_pt_BR.qm").write_bytes(qm_file.read_bytes())
    (tmp_path / "crystal_manager_pt.qm").write_bytes(qm_file.read_bytes())  # loads too, if tried first
    app = QApplication.instance()
    assert app is not None
    installed += install_translations(app, languages=QLocale("pt_BR").uiLanguages(), folder=tmp_path)
    ours = [t for t in installed if "crystal_manager" in t.filePath()]
    assert [Path(t.filePath()).name for t in ours] == ["crystal_manager_pt_BR.qm"]


def test_an_english_first_user_keeps_english_even_with_a_translation_present(
        make_app: MakeApp, pseudo: tuple[Path, set[tuple[str, str]]], installed: list[QTranslator]) -> None:
    qm_file, _extracted = pseudo  # crystal_manager_eo.qm
    app = QApplication.instance()
    assert app is not None
    installed += install_translations(app, languages=["en-US", "eo"], folder=qm_file.parent)
    assert installed == []
    tray_app, _fake, _probe = make_app("active", tray=True)
    assert tray_app.tray is not None
    assert [a.text() for a in tray_app.tray.menu.actions()][-1] == "Quit"


def test_no_file_for_the_language_keeps_english(qapp: QApplication, installed: list[QTranslator],
                                                tmp_path: Path) -> None:
    app = QApplication.instance()
    assert app is not None
    installed += install_translations(app, languages=["eo"], folder=tmp_path)  # Qt has no qtbase_eo either
    assert installed == []


def test_pages_render_with_longer_words(make_app: MakeApp, qtbot: QtBot, installed: list[QTranslator],
                                        tmp_path: Path) -> None:
    # A pseudo-translation 40 % longer than English (as German often is), rendered for people to look at
    # (test-output/gui-pseudo/): clipped or overlapping text shows there first.
    tool = build_tool()
    ts_file = tool.extract(tmp_path / "crystal_manager_eo.ts")
    qm_file = tool.release(tool.pseudo_translate(ts_file, expand=0.4))
    app = QApplication.instance()
    assert app is not None
    installed += install_translations(app, languages=["eo"], folder=qm_file.parent)
    tray_app, fake, _probe = make_app("not_activated", tray=True)
    window = tray_app.open_window("license")
    assert window.nav.item(0).text() == "[[License~~~]]"
    for page in PAGES:
        window.show_page(page)
        save_png(window, f"window-{page}", OUTPUT / "gui-pseudo")
    dialog = ActivationDialog(fake)
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.preview_shown):
        dialog.key_edit.setText(KEY)
    save_png(dialog, "activation-preview", OUTPUT / "gui-pseudo")
