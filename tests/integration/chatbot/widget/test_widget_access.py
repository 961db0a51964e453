"""Accessibility and reach: keyboard only, an axe-core scan, a 360 px wide phone, the fixed
strings in another language and the theme colour."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, expect

from tests.integration.chatbot.conftest import ApiServer
from tests.integration.chatbot.widget.conftest import (
    AXE,
    Browsing,
    Chat,
    host_page,
    open_page,
    screenshot,
)

CURATED_QUESTION = "How do I report a lost or stolen card?"  # an FAQ question as written


def test_keyboard_only(demo: ApiServer, browsing: Browsing) -> None:
    page = browsing.page
    page.goto(f"{demo.url}/")
    chat = Chat(page)
    expect(chat.launcher).to_be_visible()
    for _ in range(30):  # the page's own links come first
        page.keyboard.press("Tab")
        if chat.focused() == "launcher":
            break
    assert chat.focused() == "launcher"
    expect(chat.launcher).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(chat.panel).to_be_visible()
    expect(chat.launcher).to_have_attribute("aria-expanded", "true")
    assert chat.focused() == "input"
    page.keyboard.type("Hello!")
    page.keyboard.press("Enter")
    expect(chat.answer(1).locator(".bubble")).to_contain_text("Northwind")
    assert chat.focused() == "input"
    page.keyboard.press("Tab")
    assert chat.focused() == "send"
    page.keyboard.press("Escape")
    expect(chat.panel).to_be_hidden()
    assert chat.focused() == "launcher"
    page.keyboard.press("Enter")  # opens again, the conversation still there
    expect(chat.panel).to_be_visible()
    assert chat.focused() == "input"
    expect(chat.answers()).to_have_count(1)
    for _ in range(15):  # back through the conversation to the header's close button
        page.keyboard.press("Shift+Tab")
        if chat.focused() == "close":
            break
    assert chat.focused() == "close"
    page.keyboard.press("Enter")
    expect(chat.panel).to_be_hidden()
    assert chat.focused() == "launcher"


def test_axe_finds_no_serious_violation(demo: ApiServer, browser: Browser) -> None:
    # axe is injected as an inline script, which the demo page's CSP forbids: bypass it here.
    seen = open_page(browser, bypass_csp=True)
    page = seen.page
    try:
        page.goto(f"{demo.url}/")
        chat = Chat(page)
        chat.open()
        chat.ask(CURATED_QUESTION)
        answer = chat.answer(1)
        expect(answer.locator(".sources a")).to_have_count(1)
        page.add_script_tag(path=str(AXE))
        violations: list[dict[str, Any]] = page.evaluate(
            """async () => {
              const result = await axe.run(document, { resultTypes: ["violations"] });
              return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map((n) => n.target),
              }));
            }"""
        )
        serious = [v for v in violations if v["impact"] in {"serious", "critical"}]
        assert serious == [], serious
        assert not seen.errors, seen.errors
    finally:
        page.context.close()


def test_phone_360px_wide(demo: ApiServer, browser: Browser) -> None:
    seen = open_page(
        browser, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )
    page = seen.page
    try:
        page.goto(f"{demo.url}/")
        chat = Chat(page)
        chat.open()
        panel = chat.panel.bounding_box()
        assert panel == {"x": 0, "y": 0, "width": 360, "height": 740}
        expect(chat.launcher).to_be_hidden()  # the full-screen panel covers it
        chat.ask(CURATED_QUESTION)
        answer = chat.answer(1)
        expect(answer.locator(".sources a")).to_have_count(1)
        overflow = page.evaluate(
            """() => {
              const log = document.querySelector("chatbot-widget").shadowRoot.querySelector(".log");
              return log.scrollWidth - log.clientWidth;
            }"""
        )
        assert overflow <= 0
        for locator in (chat.input, page.get_by_role("button", name="Send"), answer):
            box = locator.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
        field = chat.input.bounding_box()
        assert field is not None and field["y"] + field["height"] <= 740
        screenshot(page, "widget-mobile.png")
        page.get_by_role("button", name="Close chat").tap()
        expect(chat.panel).to_be_hidden()
        expect(chat.launcher).to_be_visible()
        assert not seen.errors, seen.errors
    finally:
        page.context.close()


def test_language_and_colour_options(demo: ApiServer, browsing: Browsing) -> None:
    page = browsing.page
    embed = (
        '<script src="/widget.js" data-lang="fr" data-color="#ffd400" '
        'data-title="Banque Northwind" data-placeholder="Votre question ici" async></script>'
    )
    html = host_page(embed)
    page.route(
        f"{demo.url}/fr",
        lambda route: route.fulfill(status=200, content_type="text/html", body=html),
    )
    page.goto(f"{demo.url}/fr")
    chat = Chat(page)
    expect(chat.launcher).to_have_attribute("aria-label", "Ouvrir le chat: Banque Northwind")
    colours = chat.launcher.evaluate(
        "(e) => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]"
    )
    assert colours == ["rgb(255, 212, 0)", "rgb(17, 17, 17)"]  # dark text on a light accent
    chat.open()
    expect(chat.input).to_have_attribute("placeholder", "Votre question ici")
    expect(page.get_by_role("button", name="Nouvelle conversation")).to_be_visible()
    expect(page.locator("chatbot-widget h2")).to_have_text("Banque Northwind")
    expect(page.locator("chatbot-widget .welcome .bubble")).to_contain_text("Bonjour")
