"""The widget on the demo page against the running stack: a streamed model answer with its
sources, history after a reload, feedback, stop, handoff, a new conversation, error and retry."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import redis
from playwright.sync_api import Route, expect

from tests.integration.chatbot.conftest import REDIS_URL, ApiServer
from tests.integration.chatbot.widget.conftest import (
    ANSWER_TIMEOUT,
    Browsing,
    Chat,
    metric,
    screenshot,
)

FAQ = json.loads((Path(__file__).resolve().parents[4] / "data/faq/cards.json").read_text())
LOST_CARD = next(e for e in FAQ if e["id"] == "card-001")
# Phrased unlike the FAQ entry, so the model answers it (not the curated FAQ answer).
MODEL_QUESTION = "My card was stolen yesterday, who do I tell?"


def test_streamed_answer_with_sources_survives_reload_and_takes_feedback(
    demo: ApiServer, browsing: Browsing
) -> None:
    page = browsing.page
    page.goto(f"{demo.url}/")
    chat = Chat(page)
    chat.open()
    assert chat.focused() == "input"
    chat.record_steps()
    chat.ask(MODEL_QUESTION)
    expect(chat.user_messages()).to_have_text([MODEL_QUESTION])
    answer = chat.answer(1)
    # Streamed from the model; the claim check may retract it for the closest FAQ entry.
    assert answer.get_attribute("data-answered-by") in {"model", "fallback"}
    steps = chat.steps()
    assert len(steps) > 1, f"the answer arrived in one piece: {steps}"
    source = answer.locator(".sources a").first
    expect(source).to_have_attribute("href", LOST_CARD["url"])
    expect(source).to_have_attribute("target", "_blank")
    expect(source).to_have_attribute("rel", "noopener noreferrer")
    expect(source).to_contain_text(LOST_CARD["question"])
    text = answer.locator(".bubble").inner_text()
    assert text.strip()
    screenshot(page, "widget-desktop.png")

    page.reload()
    chat.open()  # still open after the reload (remembered for the tab)
    restored = chat.answer(1, timeout=30_000)
    expect(chat.user_messages()).to_have_text([MODEL_QUESTION])
    expect(restored.locator(".bubble")).to_have_text(text)
    expect(restored.locator(".sources a").first).to_have_attribute("href", LOST_CARD["url"])

    session_id = chat.session_id()
    message_id = restored.get_attribute("data-message-id")
    assert session_id and message_id
    thumbs_up = restored.get_by_role("button", name="Helpful", exact=True)
    with page.expect_response("**/v1/feedback") as sent:
        thumbs_up.click()
    assert sent.value.status == 204
    expect(thumbs_up).to_have_attribute("aria-pressed", "true")
    expect(restored.get_by_role("status")).to_have_text("Thanks for your feedback!")
    stored = redis.Redis.from_url(REDIS_URL).hget(
        f"chatbot:session:{session_id}:feedback", message_id
    )
    assert stored is not None and json.loads(stored)["rating"] == "up"


def test_stop_button_cancels_the_generation(demo: ApiServer, browsing: Browsing) -> None:
    page = browsing.page
    page.goto(f"{demo.url}/")
    chat = Chat(page)
    chat.open()
    before = metric(demo, "chatbot_generations_abandoned_total")
    chat.ask(MODEL_QUESTION)
    stop = page.get_by_role("button", name="Stop")
    bubble = page.locator("chatbot-widget .msg.bot:not(.welcome) .bubble")
    expect(bubble).to_be_visible(timeout=ANSWER_TIMEOUT)  # the first tokens are in
    stop.click()
    expect(page.locator("chatbot-widget .msg.bot .note")).to_have_text("Stopped.")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(chat.answers()).to_have_count(0)
    deadline = time.monotonic() + 15
    while metric(demo, "chatbot_generations_abandoned_total") == before:
        assert time.monotonic() < deadline, "the server did not stop generating"
        time.sleep(0.25)
    assert chat.session_id() is None  # nothing was saved for the stopped turn


def test_handoff_offer_asks_for_a_person_and_tells_the_host_page(
    demo: ApiServer, browsing: Browsing
) -> None:
    page = browsing.page
    session_id = f"widget-test-{uuid.uuid4().hex[:12]}"
    # The offer comes with an abstention (nothing in the FAQ). That first turn is replayed, so
    # the test does not hang on which questions the rails of the day find unknown; the request
    # for a person the button sends goes to the real API.
    offers = [1]

    def offer_once(route: Route) -> None:
        if not offers:
            route.fallback()
            return
        offers.pop()
        done = {
            "session_id": session_id,
            "message_id": "offer-1",
            "answer": "I couldn't find that in our FAQ. Would you like a member of our team?",
            "answered_by": "abstain",
            "citations": [],
            "guardrails": {"blocked": False, "handoff": False, "handoff_offered": True},
            "timings_ms": {},
        }
        body = f"event: token\r\ndata: {json.dumps({'text': done['answer']})}\r\n\r\n"
        body += f"event: done\r\ndata: {json.dumps(done)}\r\n\r\n"
        route.fulfill(status=200, content_type="text/event-stream", body=body)

    page.route("**/v1/chat/stream", offer_once)
    page.goto(f"{demo.url}/")
    page.evaluate(
        """() => {
          window.__handoffs = [];
          document.addEventListener("chatbot:handoff", (e) => window.__handoffs.push(e.detail));
        }"""
    )
    chat = Chat(page)
    chat.open()
    chat.ask("Do you insure pets?")
    abstained = chat.answer(1)
    person = abstained.get_by_role("button", name="Talk to a person")
    person.click()
    expect(person).to_be_disabled()
    handed = chat.answer(2)
    expect(chat.user_messages().nth(1)).to_have_text("I want to talk to a human")
    assert handed.get_attribute("data-answered-by") == "rails"
    expect(handed.locator(".bubble")).to_contain_text("support team")
    handoffs = page.evaluate("() => window.__handoffs")
    message_id = handed.get_attribute("data-message-id")
    assert handoffs == [{"session_id": session_id, "message_id": message_id}]
    turns = httpx.get(f"{demo.url}/v1/sessions/{session_id}").json()["turns"]
    assert turns[-1]["guardrails"]["handoff"] is True  # the request is on the record

    chat.ask("I'd like to talk to a real person please")  # typed: the rails hand off too
    chat.answer(3)
    assert len(page.evaluate("() => window.__handoffs")) == 2


def test_new_conversation_erases_the_session(demo: ApiServer, browsing: Browsing) -> None:
    page = browsing.page
    page.goto(f"{demo.url}/")
    chat = Chat(page)
    chat.open()
    chat.ask("Hello!")
    chat.answer(1)
    session_id = chat.session_id()
    assert session_id
    with page.expect_response(f"**/v1/sessions/{session_id}") as erased:
        page.get_by_role("button", name="New conversation").click()
    assert erased.value.status == 204
    expect(page.locator("chatbot-widget .msg")).to_have_count(1)  # the welcome message
    assert chat.session_id() is None
    assert chat.focused() == "input"
    assert httpx.get(f"{demo.url}/v1/sessions/{session_id}").status_code == 404
    page.reload()
    chat.open()
    expect(page.locator("chatbot-widget .msg")).to_have_count(1)


def test_error_event_shows_a_friendly_message_and_retry_works(
    demo: ApiServer, browsing: Browsing
) -> None:
    page = browsing.page
    failures = [1]

    def fail_once(route: Route) -> None:
        if failures:
            failures.pop()
            problem = {
                "type": "urn:chatbot:problem:engine-unavailable",
                "title": "Engine unavailable",
                "status": 503,
                "detail": "triton is down <b>bold</b>",
            }
            route.fulfill(
                status=200,
                content_type="text/event-stream",
                body=f"event: error\r\ndata: {json.dumps(problem)}\r\n\r\n",
            )
        else:
            route.fallback()

    page.route("**/v1/chat/stream", fail_once)
    page.goto(f"{demo.url}/")
    chat = Chat(page)
    chat.open()
    chat.ask("Hello!")
    error = page.locator("chatbot-widget .msg.bot .error")
    expect(error).to_have_text("Sorry, something went wrong. Please try again.")
    page.get_by_role("button", name="Try again").click()
    answer = chat.answer(1)
    assert answer.get_attribute("data-answered-by") == "rails"
    expect(error).to_have_count(0)
    expect(chat.user_messages()).to_have_text(["Hello!"])  # the retry did not repeat it


def test_unreachable_api_says_so(demo: ApiServer, browsing: Browsing) -> None:
    page = browsing.page
    page.route("**/v1/chat/stream", lambda route: route.abort("connectionrefused"))
    page.goto(f"{demo.url}/")
    chat = Chat(page)
    chat.open()
    chat.ask("Hello!")
    expect(page.locator("chatbot-widget .msg.bot .error")).to_contain_text("Can't reach")
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
