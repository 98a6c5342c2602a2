"""The Privacy page after a real activation, a license check and a server check against the reference
server, rendered to PNG (test-output/gui/privacy-after-activation-*.png) for people to look at."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from crystal_manager.gui.pages.privacy_page import PrivacyPage
from crystal_manager.services.context import AppContext
from crystal_manager.services.health import check_server
from tests.support.licensing import issue, service
from tests.support.render import OUTPUT, save, themed
from tests.support.servers import ReferenceServer


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_privacy_page_after_a_real_activation(theme: str, qtbot: QtBot, lic_ctx: AppContext,
                                              reference_server: ReferenceServer) -> None:
    lic = issue(reference_server.data_dir)
    service(lic_ctx, name="alpha").activate(lic.key, label="Studio PC")
    service(lic_ctx, name="alpha").verify()
    check_server(lic_ctx)
    entries = lic_ctx.ledger.entries()
    with themed(theme):
        page = PrivacyPage()
        qtbot.addWidget(page)
        page.set_catalog(lic_ctx.catalog)
        page.set_ledger(entries)
        page.resize(1100, 760)
        page.show()
        rows = page.ledger_table.rows()
        assert [row[1] for row in rows] == ["Server health check", "Re-validate the license",
                                            "Activate this machine"]
        assert all(row[4] == "answered" for row in rows)
        assert "key: …" + lic.key[-4:] in rows[1][5] and lic.key not in str(rows)
        assert "Last sent:" in page.summary.text()
        save(page, f"privacy-after-activation-{theme}", OUTPUT / "gui")
