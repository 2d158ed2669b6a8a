"""axe-core on the signed-in indicator pages (alerts), in French and English."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .conftest import Portal, axe_violations, describe, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_alerts_page_has_no_axe_violation(page: Page, portal: Portal, lang: str) -> None:
    sign_in(page, portal, "admin")
    response = page.goto(portal.url(f"/indicateurs/alertes?lang={lang}"))
    assert response is not None
    assert response.status == 200
    assert page.locator("table tbody tr").count() >= 1  # the demo's leak at Groix
    violations = axe_violations(page)
    assert not violations, describe(violations)
