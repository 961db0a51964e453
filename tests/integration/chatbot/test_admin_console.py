"""The admin console at ``/admin/`` in Debian's Chromium (Playwright), against the real API:
the session's embedded Triton, the machine's Redis, SQLite for the durable store, and a
private copy of the sample FAQ with its own index (uploads and answers change them).

Each page is scanned with axe-core (no serious or critical violation) at 1280 px and 390 px
wide, and saved as ``tests/artifacts/admin-<page>.png`` (1280x800)."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect, sync_playwright

from chatbot.settings import Settings
from ingest.embeddings import Embedder
from tests.integration.chatbot.conftest import ADMIN, ADMIN_KEY, ApiServer, problem, variant
from tests.integration.conftest import DATA, REPO, Ingest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
FAQ = json.loads((DATA / "faq" / "cards.json").read_text())
LOST_CARD = next(e for e in FAQ if e["id"] == "card-001")
HOSTILE = "<img src=x onerror=alert(1)>"
PAGES = ["gaps", "feedback", "handoffs", "turns", "index", "ingest"]
TITLES = {
    "gaps": "FAQ gaps",
    "feedback": "Feedback",
    "handoffs": "Handoffs",
    "turns": "Recent turns",
    "index": "Index versions",
    "ingest": "Ingest documents",
}
# What the sample FAQ does not answer, asked three ways (one gap).
MISSING = [
    "Can I rent a safe deposit box at a Northwind branch?",
    "Do you offer safe deposit boxes in your branches?",
    "How do I get a safety deposit box at the bank?",
]
MISSING_ANSWER = (
    "Northwind Bank does not offer safe deposit boxes. Keep valuables with a specialist "
    "safe deposit company."
)


@pytest.fixture(scope="module")
def console(
    api_settings: Settings,
    settings: Settings,
    embedder: Embedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ApiServer]:
    """The API with an admin key, on its own copy of the data, index and store."""
    root = tmp_path_factory.mktemp("console")
    data = root / "data"
    shutil.copytree(DATA, data)
    index_dir = root / "index"
    Ingest(settings, embedder, index_dir)(data)
    changed = variant(
        api_settings,
        data_dir=data,
        index_dir=index_dir,
        admin_keys=[ADMIN_KEY],
        admin_faq_file=root / "admin-faq.csv",
        database_url=f"sqlite+aiosqlite:///{root}/chatbot.db",
    )
    with ApiServer(changed) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's Chromium is missing: `apt-get install chromium`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


class Console:
    """One browser context on the console, with what it saw: dialogs, page errors and
    console messages (a CSP violation is one)."""

    def __init__(self, browser: Browser, api: ApiServer, **context: Any) -> None:
        options: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, **context}
        self.api = api
        self.page: Page = browser.new_context(**options).new_page()
        self.page.set_default_timeout(30_000)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.csp: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.csp.append(message.text)

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.api.url}/admin/{route}")
        expect(self.page.locator("body[data-ready=true]")).to_have_count(1)

    def sign_in(self, key: str = ADMIN_KEY) -> None:
        self.page.get_by_label("Admin key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()

    def go(self, name: str) -> None:
        self.page.get_by_role("navigation", name="Console pages").get_by_role(
            "link", name=re.compile(f"^{name}$", re.IGNORECASE)
        ).click()
        expect(self.heading()).to_have_text(TITLES[name])

    def heading(self) -> Any:
        return self.page.get_by_role("heading", level=1)

    def check(self) -> None:
        assert not self.errors, f"uncaught errors in the page: {self.errors}"
        assert not self.csp, f"CSP violations: {self.csp}"
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"

    def close(self) -> None:
        self.page.context.close()


@pytest.fixture
def admin(browser: Browser, console: ApiServer) -> Iterator[Console]:
    """The console, signed in."""
    seen = Console(browser, console)
    try:
        seen.open()
        seen.sign_in()
        expect(seen.heading()).to_have_text(TITLES["gaps"])
        yield seen
        seen.check()
    finally:
        seen.close()


def logged(api: ApiServer, message_id: str) -> dict[str, Any]:
    # The turn log writes off the response path: it lands within a flush interval.
    deadline = time.monotonic() + 15
    while True:
        response = api.client.get(f"/admin/turns/{message_id}", headers=ADMIN)
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body
        time.sleep(0.1)


def serious_violations(page: Page) -> list[dict[str, Any]]:
    results = Axe().run(page)
    return [
        {"id": v["id"], "impact": v["impact"], "targets": [n["target"] for n in v["nodes"]]}
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def routes_exist(api: ApiServer, *paths: str) -> bool:
    return all(api.client.get(p, headers=ADMIN).status_code != 404 for p in paths)


# --- assets -------------------------------------------------------------------------------


def test_console_and_its_assets_are_served_strictly(console: ApiServer) -> None:
    page = httpx.get(f"{console.url}/admin/", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "unsafe" not in csp
    assert "<script>" not in page.text and "style=" not in page.text
    for name, kind in (("console.js", "text/javascript"), ("console.css", "text/css")):
        asset = httpx.get(f"{console.url}/admin/assets/{name}", timeout=30)
        assert asset.status_code == 200, name
        assert asset.headers["content-type"].startswith(kind)
        assert asset.headers["x-content-type-options"] == "nosniff"
    for name in ("index.html", "missing.js", "__init__.py"):
        problem(httpx.get(f"{console.url}/admin/assets/{name}", timeout=30), 404)
    for name in ("..%2F..%2Fapp.py", "%2E%2E%2Fwidget.js", "sub/console.js", "..%2Findex.html"):
        response = httpx.get(f"{console.url}/admin/assets/{name}", timeout=30)
        assert response.status_code == 404, name


def test_no_customer_text_goes_through_html_parsing() -> None:
    # Reviewable by grep: the modules create text nodes only.
    for module in (REPO / "chatbot" / "web" / "admin").glob("*.js"):
        source = module.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{module.name} uses {sink}"
        assert "new Function" not in source


# --- sign-in ------------------------------------------------------------------------------


def test_sign_in_refuses_a_wrong_key_and_accepts_the_right_one(
    browser: Browser, console: ApiServer
) -> None:
    seen = Console(browser, console)
    page = seen.page
    try:
        seen.open()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_label("Admin key")).to_be_focused()
        expect(page.get_by_role("navigation", name="Console pages")).to_be_hidden()
        screenshot(page, "admin-sign-in.png")
        seen.sign_in("not-the-admin-key-0123456789")
        expect(page.locator("#sign-in-message")).to_contain_text("refused")
        expect(page.get_by_label("Admin key")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Admin key")).to_be_focused()
        assert page.evaluate("() => sessionStorage.length") == 0
        seen.sign_in()
        expect(seen.heading()).to_have_text(TITLES["gaps"])
        expect(seen.heading()).to_be_focused()
        nav = page.get_by_role("navigation", name="Console pages")
        expect(nav.get_by_role("link", name="Gaps")).to_have_attribute("aria-current", "page")
        assert page.evaluate("() => Object.values(sessionStorage)") == [ADMIN_KEY]
        assert page.evaluate("() => localStorage.length + document.cookie.length") == 0
        page.reload()  # the tab keeps the key
        expect(seen.heading()).to_have_text(TITLES["gaps"])
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(page.get_by_label("Admin key")).to_be_focused()
        assert page.evaluate("() => sessionStorage.length") == 0
        # A key refused later (revoked, or edited in storage) returns to the sign-in form.
        seen.sign_in()
        expect(seen.heading()).to_have_text(TITLES["gaps"])
        page.evaluate("() => sessionStorage.setItem('chatbot-admin:key', 'revoked-key-0123')")
        page.get_by_role("link", name="Turns").click()
        expect(page.locator("#sign-in-message")).to_contain_text("sign in again")
        expect(page.get_by_label("Admin key")).to_be_focused()
        assert page.evaluate("() => sessionStorage.length") == 0
        seen.check()
    finally:
        seen.close()


def test_pages_by_keyboard(admin: Console) -> None:
    page = admin.page
    nav = page.get_by_role("navigation", name="Console pages")
    nav.get_by_role("link", name="Gaps").focus()
    page.keyboard.press("ArrowRight")
    expect(nav.get_by_role("link", name="Feedback")).to_be_focused()
    page.keyboard.press("End")
    expect(nav.get_by_role("link", name="Ingest")).to_be_focused()
    page.keyboard.press("ArrowRight")  # wraps around
    expect(nav.get_by_role("link", name="Gaps")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(nav.get_by_role("link", name="Index")).to_be_focused()
    page.keyboard.press("Enter")
    expect(admin.heading()).to_have_text(TITLES["index"])
    expect(admin.heading()).to_be_focused()  # focus moves to the new page
    expect(nav.get_by_role("link", name="Index")).to_have_attribute("aria-current", "page")
    outline = nav.get_by_role("link", name="Turns").evaluate(
        "(e) => { e.focus(); return getComputedStyle(e).outlineStyle; }"
    )
    assert outline != "none"  # visible focus
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="Turns")).to_be_focused()


# --- turns and provenance -----------------------------------------------------------------


def test_turns_page_shows_a_real_turn_with_its_provenance(admin: Console) -> None:
    api = admin.api
    reply = api.chat(LOST_CARD["question"])
    record = logged(api, reply["message_id"])
    page = admin.page
    admin.go("turns")
    row = page.locator("tr", has=page.locator(f"button[data-message-id='{reply['message_id']}']"))
    expect(row).to_contain_text(LOST_CARD["question"])
    expect(row).to_contain_text(reply["answered_by"])
    row.get_by_role("button").click()
    detail = page.locator(f".provenance[data-message-id='{reply['message_id']}']")
    expect(detail).to_be_visible()
    expect(detail.get_by_role("heading", level=2)).to_be_focused()
    expect(detail.locator(".answer")).to_have_text(reply["answer"])
    sources = detail.get_by_role("region", name="Sources and their scores")
    first = reply["citations"][0]
    expect(sources).to_contain_text(first["title"])
    expect(sources).to_contain_text(f"{first['score']:.3f}")
    expect(sources).to_contain_text(first["kind"])
    assert record["index_version"] and record["prompt_version"]
    expect(detail).to_contain_text(record["index_version"])
    expect(detail).to_contain_text(record["prompt_version"])
    expect(detail).to_contain_text("llmapi")
    rails = detail.locator(".rails")
    expect(rails).to_contain_text("blocked")
    expect(rails).to_contain_text("near faq")
    expect(detail.get_by_role("region", name="Timings in milliseconds")).to_contain_text("total")
    assert page.url.endswith(f"#/turns/{reply['message_id']}")
    # The link is shareable: a fresh load opens the same provenance.
    page.reload()
    expect(page.locator(f".provenance[data-message-id='{reply['message_id']}']")).to_be_visible()
    # Filtered by outcome and session.
    page.get_by_label("Session id").fill(reply["session_id"])
    page.get_by_role("button", name="Show", exact=True).click()
    listed = page.get_by_role("region", name="Turns", exact=True).locator("tbody tr")
    expect(listed).to_have_count(1)


def test_hostile_text_is_shown_as_literal_text(admin: Console) -> None:
    api = admin.api
    reply = api.chat(f"{HOSTILE} {LOST_CARD['question']}")
    logged(api, reply["message_id"])
    rated = api.chat(LOST_CARD["question"])  # a refused message may not be rated
    feedback = {
        "session_id": rated["session_id"],
        "message_id": rated["message_id"],
        "rating": "down",
        "comment": f"{HOSTILE}<script>alert(2)</script><a href='javascript:alert(3)'>x</a>",
    }
    response = api.client.post("/v1/feedback", json=feedback)
    assert response.status_code == 204, response.text
    page = admin.page
    admin.go("turns")
    row = page.locator("tr", has=page.locator(f"button[data-message-id='{reply['message_id']}']"))
    expect(row).to_contain_text(HOSTILE)
    row.get_by_role("button").click()
    expect(page.locator(".provenance .question")).to_contain_text(HOSTILE)
    admin.go("feedback")
    expect(page.locator("main")).to_contain_text("<script>alert(2)</script>")
    found = page.evaluate(
        """() => ({
          images: document.querySelectorAll("img, image").length,
          scripts: [...document.querySelectorAll("script")].map((s) => s.src),
          handlers: [...document.querySelectorAll("*")].flatMap(
            (e) => [...e.attributes].filter((a) => a.name.startsWith("on")).map((a) => a.name)),
          js_links: [...document.querySelectorAll("a")].filter(
            (a) => !/^https?:/.test(a.href)).map((a) => a.href),
        })"""
    )
    assert found["images"] == 0
    assert found["scripts"] == [f"{api.url}/admin/assets/console.js"]
    assert found["handlers"] == []
    assert found["js_links"] == []
    assert admin.dialogs == []


# --- feedback -----------------------------------------------------------------------------


def test_feedback_page_shows_a_thumbs_down(admin: Console) -> None:
    api = admin.api
    reply = api.chat(LOST_CARD["question"])
    body = {
        "session_id": reply["session_id"],
        "message_id": reply["message_id"],
        "rating": "down",
        "comment": "Too short, it did not say how long a new card takes.",
    }
    assert api.client.post("/v1/feedback", json=body).status_code == 204
    page = admin.page
    admin.go("feedback")
    row = page.locator("tr", has=page.get_by_role("link", name=reply["message_id"]))
    expect(row).to_contain_text("Thumbs down")
    expect(row).to_contain_text("Too short, it did not say how long a new card takes.")
    page.get_by_label("Rating").select_option("up")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.get_by_role("link", name=reply["message_id"])).to_have_count(0)
    page.get_by_label("Rating").select_option("down")
    page.get_by_role("button", name="Show", exact=True).click()
    logged(api, reply["message_id"])
    page.get_by_role("link", name=reply["message_id"]).click()  # to the rated turn
    expect(admin.heading()).to_have_text(TITLES["turns"])
    expect(page.locator(f".provenance[data-message-id='{reply['message_id']}']")).to_be_visible()


# --- ingest and index ---------------------------------------------------------------------


def test_upload_shows_progress_and_the_summary(admin: Console, tmp_path: Path) -> None:
    api = admin.api
    before = api.client.get("/admin/index", headers=ADMIN).json()["version"]
    document = tmp_path / "travel.md"
    document.write_text(
        "# Travel\n\n## Do I need to tell you before I travel abroad?\n\n"
        "No. Your Northwind debit card works abroad without telling us; keep the app's "
        "notifications on so we can check an unusual payment with you.\n"
    )
    page = admin.page
    admin.go("ingest")
    page.get_by_label("FAQ documents").set_input_files(str(document))
    page.get_by_role("button", name="Upload and ingest").click()
    bar = page.get_by_role("progressbar", name="Upload progress")
    expect(bar).to_be_visible()
    summary = page.get_by_role("region", name="Ingest summary")
    expect(summary).to_be_visible(timeout=180_000)
    assert bar.evaluate("(e) => [e.value, e.max, e.dataset.sent]") == [100, 100, "true"]
    after = api.client.get("/admin/index", headers=ADMIN).json()
    assert after["version"] != before
    expect(summary).to_contain_text(f"Published index version {after['version']}")
    expect(summary).to_contain_text("uploads/travel.md")
    expect(page.locator(".progress-text")).to_contain_text("Done")
    admin.go("index")
    served = page.locator("section.served")
    expect(served).to_contain_text(after["version"])
    expect(served.get_by_role("region", name="Documents of the served version")).to_contain_text(
        "travel.md"
    )
    expect(served.locator(".versions li")).to_have_count(len(after["versions_on_disk"]))


def test_upload_refused_shows_the_problem(admin: Console, tmp_path: Path) -> None:
    bad = tmp_path / "notes.exe"
    bad.write_bytes(b"MZ not a document")
    page = admin.page
    admin.go("ingest")
    page.get_by_label("FAQ documents").set_input_files(str(bad))
    page.get_by_role("button", name="Upload and ingest").click()
    expect(page.get_by_role("alert")).to_contain_text("Not ingested")


# --- handoffs and gaps (the lead's routes) ------------------------------------------------


def test_handoffs_page_shows_a_handoff_and_its_transcript(admin: Console) -> None:
    api = admin.api
    assert routes_exist(api, "/admin/handoffs"), "GET /admin/handoffs is not served yet"
    first = api.chat(LOST_CARD["question"])
    api.chat("I want to talk to a human, please.", session_id=first["session_id"])
    deadline = time.monotonic() + 15
    while True:
        found = api.client.get("/admin/handoffs", headers=ADMIN).json()["handoffs"]
        mine = [h for h in found if h["session_id"] == first["session_id"]]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert mine, found
    page = admin.page
    admin.go("handoffs")
    card = page.locator(f".handoff[data-handoff-id='{mine[0]['id']}']")
    expect(card).to_contain_text(mine[0]["status"].replace("_", " "))
    expect(card.locator(".transcript")).to_contain_text(LOST_CARD["question"])
    expect(card).to_contain_text("Attempts")


def _gap_for(api: ApiServer, text: str) -> dict[str, Any] | None:
    gaps = api.client.get("/admin/gaps", headers=ADMIN, params={"status": "open"}).json()
    for gap in gaps["gaps"]:
        if any(text in example for example in gap["examples"]):
            found: dict[str, Any] = gap
            return found
    return None


def test_a_gap_answered_in_the_console_is_answered_as_curated(admin: Console) -> None:
    """The support loop: an unanswered question asked three ways is one gap; the admin answers
    it in place; the same question asked again gets the admin's answer as written."""
    api = admin.api
    assert routes_exist(api, "/admin/gaps", "/admin/faq"), "/admin/gaps or /admin/faq missing"
    replies = [api.chat(question) for question in MISSING]
    for reply in replies:
        assert reply["answered_by"] not in {"curated", "faq_entry"}, reply
        logged(api, reply["message_id"])
    gap = _gap_for(api, MISSING[0])
    assert gap is not None and gap["size"] >= 3, gap
    page = admin.page
    admin.go("gaps")
    card = page.locator(f".gap[data-gap-id='{gap['id']}']")
    expect(card).to_contain_text(MISSING[1])
    card.get_by_role("button", name="Answer").click()
    question = card.get_by_label("Question")
    expect(question).to_have_value(gap["examples"][0])
    question.fill(MISSING[0])
    card.get_by_label("Answer", exact=True).fill(MISSING_ANSWER)
    card.get_by_label("Category (optional)").fill("branches")
    card.get_by_role("button", name="Publish answer").click()
    result = card.locator(".result")
    anyway = result.get_by_role("button", name="Publish anyway")
    published = result.get_by_text(re.compile("Published as FAQ entry"))
    expect(anyway.or_(published)).to_be_visible(timeout=180_000)
    if anyway.is_visible():  # the gate refused it: its figures are shown, and the choice
        expect(result.get_by_role("region", name="Regression gate")).to_be_visible()
        anyway.click()
        expect(published).to_be_visible(timeout=180_000)
    expect(result.get_by_role("region", name="Ingest summary")).to_contain_text(
        "Published index version"
    )
    again = api.chat(MISSING[0])
    assert again["answered_by"] == "curated", again
    assert again["answer"] == MISSING_ANSWER
    entries = api.client.get("/admin/faq", headers=ADMIN).json()["entries"]
    assert [e["gap_id"] for e in entries if e["question"] == MISSING[0]] == [gap["id"]]
    admin.go("index")
    entry = page.locator(".entry", has_text=MISSING[0])
    expect(entry).to_contain_text(MISSING_ANSWER)


# --- every page: axe, phone width, screenshots --------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_each_page_is_accessible_and_fits_a_phone(
    browser: Browser, console: ApiServer, name: str
) -> None:
    reply = console.chat(LOST_CARD["question"])  # something to list
    body = {"session_id": reply["session_id"], "message_id": reply["message_id"], "rating": "down"}
    assert console.client.post("/v1/feedback", json=body).status_code == 204
    logged(console, reply["message_id"])
    for width, height in ((1280, 800), (390, 844)):
        seen = Console(browser, console, viewport={"width": width, "height": height})
        page = seen.page
        try:
            seen.open()
            seen.sign_in()
            expect(seen.heading()).to_have_text(TITLES["gaps"])
            seen.go(name)
            expect(page.locator("#page-body .notice.info", has_text="Loading")).to_have_count(0)
            if name == "turns":  # the provenance panel too
                page.locator(f"button[data-message-id='{reply['message_id']}']").click()
                expect(page.locator(".provenance")).to_be_visible()
            assert serious_violations(page) == []
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} is wider than {width}px by {overflow}px"
            if width == 1280:
                screenshot(page, f"admin-{name}.png")
            else:
                screenshot(page, f"admin-{name}-phone.png")
            seen.check()
        finally:
            seen.close()


def test_sign_in_page_is_accessible(browser: Browser, console: ApiServer) -> None:
    seen = Console(browser, console)
    try:
        seen.open()
        seen.sign_in("wrong-key-0123456789")
        expect(seen.page.locator("#sign-in-message")).to_contain_text("refused")
        assert serious_violations(seen.page) == []
        seen.check()
    finally:
        seen.close()
