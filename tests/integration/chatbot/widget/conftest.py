"""Browser fixtures: Playwright (sync API) driving Debian's Chromium against the API over real
HTTP (the session's embedded Triton, the machine's Redis, the real rails, a real index).

Nothing here skips: without Chromium, Playwright or a built widget the tests fail, since they
are part of ``make test`` (which installs all three)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from chatbot.settings import Settings
from tests.integration.chatbot.conftest import ApiServer, variant
from tests.integration.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
WIDGET_JS = REPO / "chatbot" / "web" / "widget.js"
AXE = REPO / "chatbot" / "widget" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "tests" / "artifacts"
ANSWER_TIMEOUT = 120_000  # ms: the first turn of a server builds the rails' embedding index


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's Chromium is missing: `apt-get install chromium`"
    assert WIDGET_JS.exists(), (
        "the widget is not built: `npm ci && npm run build` in chatbot/widget"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def demo(api_settings: Settings) -> Iterator[ApiServer]:
    """The API as `chatbot up` runs it: development, loopback, no keys (the demo page embeds
    the widget without one). A few more tokens than the other API tests, so a streamed answer
    takes long enough to stop."""
    with ApiServer(variant(api_settings, api_keys=[], max_tokens=48)) as server:
        yield server


@dataclass
class Browsing:
    """One browser context's page, with what it saw: dialogs, page errors, requests."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_page(browser: Browser, **context: Any) -> Browsing:
    options: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, **context}
    page = browser.new_context(**options).new_page()
    seen = Browsing(page)

    def on_dialog(dialog: Any) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("request", lambda request: seen.requests.append(request.url))
    page.set_default_timeout(30_000)
    return seen


@pytest.fixture
def browsing(browser: Browser) -> Iterator[Browsing]:
    seen = open_page(browser)
    try:
        yield seen
    finally:
        seen.page.context.close()
    assert not seen.errors, f"uncaught errors in the page: {seen.errors}"


class Chat:
    """The widget on a page, driven like a visitor would."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.locator("chatbot-widget .launcher")
        self.panel = page.locator("chatbot-widget .panel")
        self.input = page.locator("chatbot-widget #input")
        self.log = page.locator("chatbot-widget .log")

    def open(self) -> None:
        expect(self.launcher).to_be_visible()
        if not self.panel.is_visible():
            self.launcher.click()
        expect(self.panel).to_be_visible()

    def ask(self, text: str) -> None:
        self.input.fill(text)
        self.input.press("Enter")

    def answers(self) -> Locator:
        """Finished answers (a message id arrives with the `done` event), oldest first."""
        return self.page.locator("chatbot-widget .msg.bot[data-message-id]")

    def answer(self, n: int, timeout: float = ANSWER_TIMEOUT) -> Locator:
        expect(self.answers()).to_have_count(n, timeout=timeout)
        return self.answers().nth(n - 1)

    def user_messages(self) -> Locator:
        return self.page.locator("chatbot-widget .msg.user .bubble")

    def focused(self) -> str:
        """What has the keyboard focus: inside the widget its id or last class (`launcher`,
        `input`, `send`, `close`, ...), else the page element's tag."""
        result: str = self.page.evaluate(
            """() => {
              const host = document.querySelector("chatbot-widget");
              if (document.activeElement !== host) return document.activeElement?.tagName || "";
              const inner = host.shadowRoot.activeElement;
              return inner ? (inner.id || [...inner.classList].at(-1) || inner.tagName) : "";
            }"""
        )
        return result

    def session_id(self) -> str | None:
        value: str | None = self.page.evaluate(
            """() => {
              const key = Object.keys(localStorage)
                .find((k) => k.startsWith("chatbot-widget:session:"));
              return key ? localStorage.getItem(key) : null;
            }"""
        )
        return value

    def audit(self) -> dict[str, Any]:
        """Anything in the widget's shadow DOM (and the page) that could run or fetch: active
        elements, event-handler attributes, javascript: URLs, images."""
        found: dict[str, Any] = self.page.evaluate(
            """() => {
              const root = document.querySelector("chatbot-widget").shadowRoot;
              const all = [...root.querySelectorAll("*")];
              const attrs = all.flatMap(
                (e) => [...e.attributes].map((a) => [e.tagName, a.name, a.value]));
              const active = new RegExp("^(img|image|script|i?frame|object|embed|style|link|"
                + "meta|base|video|audio|source|picture)$", "i");
              return {
                active: all.filter((e) => active.test(e.tagName)).map((e) => e.tagName),
                answer_tags: [...new Set(
                  [...root.querySelectorAll(".bubble *")].map((e) => e.tagName.toLowerCase()))],
                handlers: attrs.filter(([, name]) => name.toLowerCase().startsWith("on")),
                js_urls: attrs.filter(
                  ([, , value]) => /^\\s*(javascript|data|vbscript):/i.test(value)),
                page_images: document.querySelectorAll("img, image").length,
              };
            }"""
        )
        return found

    def record_steps(self) -> None:
        """Keep every distinct text the newest answer shows while it streams."""
        self.page.evaluate(
            """() => {
              const root = document.querySelector("chatbot-widget").shadowRoot;
              window.__steps = [];
              new MutationObserver(() => {
                const bubbles = root.querySelectorAll(".msg.bot:not(.welcome) .bubble");
                const text = bubbles.length ? bubbles[bubbles.length - 1].textContent : "";
                if (text && window.__steps.at(-1) !== text) window.__steps.push(text);
              }).observe(root, { subtree: true, childList: true, characterData: true });
            }"""
        )

    def steps(self) -> list[str]:
        steps: list[str] = self.page.evaluate("() => window.__steps")
        return steps


def metric(api: ApiServer, name: str) -> float:
    text = httpx.get(f"{api.url}/metrics", timeout=30).text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def host_page(body: str, head: str = "") -> str:
    """A customer's page (served by a route in the test, no CSP of ours)."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>Host page</title>{head}</head><body>{body}</body></html>"
    )
