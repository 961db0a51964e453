from __future__ import annotations

import json
from pathlib import Path

import pytest
from fpdf import FPDF

from ingest.config import ChunkingConfig, FaqColumns
from ingest.errors import DocumentLoadError, UnsupportedFileError
from ingest.loaders import (
    load_csv,
    load_html,
    load_json,
    load_jsonl,
    load_markdown,
    load_pdf,
    load_text,
    loader_for,
)

COLS = FaqColumns()


def test_csv_pairs_with_optional_columns() -> None:
    data = (
        b"id,question,answer,category,url\n"
        b'a1,How do I block my card?,"Open the app, tap Cards, then Freeze.",cards,https://x/1\n'
    )
    warnings: list[str] = []
    [section] = load_csv(data, "faq.csv", COLS, warnings)
    assert section.kind == "faq"
    assert section.title == "How do I block my card?"
    assert section.answer == "Open the app, tap Cards, then Freeze."
    assert section.text == "How do I block my card?\nOpen the app, tap Cards, then Freeze."
    assert (section.entry_id, section.category, section.url) == ("a1", "cards", "https://x/1")
    assert warnings == []


def test_csv_configurable_headers_bom_and_semicolons() -> None:
    data = "\ufeffFrage;Antwort\nWie?;So.\n".encode()
    cols = FaqColumns(question="frage", answer="antwort")
    [section] = load_csv(data, "de.csv", cols, [])
    assert (section.title, section.answer) == ("Wie?", "So.")


def test_csv_malformed_rows_are_reported_not_fatal() -> None:
    data = b"question,answer\nGood?,Yes.\nNo answer?,\nToo,many,fields\n,Only answer\nFine?,Ok.\n"
    warnings: list[str] = []
    sections = load_csv(data, "faq.csv", COLS, warnings)
    assert [s.title for s in sections] == ["Good?", "Fine?"]
    assert warnings == [
        "line 3: skipped, missing answer",
        "line 4: skipped, 3 fields for 2 columns",
        "line 5: skipped, missing question",
    ]


def test_csv_without_required_headers_fails() -> None:
    with pytest.raises(DocumentLoadError, match="must name the columns"):
        load_csv(b"q,a\nx,y\n", "faq.csv", COLS, [])


def test_not_utf8_fails_clearly() -> None:
    with pytest.raises(DocumentLoadError, match="not UTF-8"):
        load_csv(b"question,answer\n\xff\xfe\xfa,x\n", "faq.csv", COLS, [])


def test_json_list_and_wrapped_object() -> None:
    items = [{"question": "A?", "answer": "a"}, {"Question": "B?", "ANSWER": "b"}]
    assert [s.title for s in load_json(json.dumps(items).encode(), "f.json", COLS, [])] == [
        "A?",
        "B?",
    ]
    wrapped = json.dumps({"meta": {"v": 1}, "faqs": items}).encode()
    assert len(load_json(wrapped, "f.json", COLS, [])) == 2


def test_json_bad_items_are_warnings_and_bad_documents_errors() -> None:
    warnings: list[str] = []
    data = json.dumps([{"question": "A?", "answer": "a"}, "oops", {"question": "B?"}]).encode()
    assert len(load_json(data, "f.json", COLS, warnings)) == 1
    assert warnings == [
        "item 2: skipped, expected an object with question and answer",
        "item 3: skipped, missing answer",
    ]
    with pytest.raises(DocumentLoadError, match="invalid JSON"):
        load_json(b"[{", "f.json", COLS, [])
    with pytest.raises(DocumentLoadError, match="list of FAQ objects"):
        load_json(b'"text"', "f.json", COLS, [])


def test_jsonl_reports_broken_lines() -> None:
    data = b'{"question": "A?", "answer": "a"}\nnot json\n\n{"question": "B?", "answer": "b"}\n'
    warnings: list[str] = []
    assert [s.title for s in load_jsonl(data, "f.jsonl", COLS, warnings)] == ["A?", "B?"]
    assert len(warnings) == 1
    assert warnings[0].startswith("line 2: skipped, invalid JSON")


def test_markdown_splits_on_headings_and_detects_questions() -> None:
    text = "# Cards\n\nIntro text.\n\n## How do I freeze my card?\nTap Freeze.\n\n## Fees\nNone.\n"
    sections = load_markdown(text.encode(), "cards.md", COLS, [])
    assert [(s.title, s.kind) for s in sections] == [
        ("Cards", "passage"),
        ("How do I freeze my card?", "faq"),
        ("Fees", "passage"),
    ]
    faq = sections[1]
    assert faq.answer == "Tap Freeze."
    assert faq.location == "Cards > How do I freeze my card?"


def test_text_uses_file_name_as_title_and_skips_empty() -> None:
    [section] = load_text(b"Opening hours: 9 to 5.", "opening-hours.txt", COLS, [])
    assert (section.title, section.text) == ("opening-hours", "Opening hours: 9 to 5.")
    assert load_text(b"  \n", "empty.txt", COLS, []) == []


HTML = """<html><head><title>Card help | Bank</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/loans">Loans menu item</a></li></ul></nav>
<main><article><h1>Card help</h1>
<p>If your card is lost, freeze it immediately in the app under Cards and then order a
replacement card. Replacement cards arrive within three to five working days by post.</p>
<h2>Contactless</h2>
<p>The contactless limit is one hundred pounds per payment. After several contactless payments
in a row the terminal may ask for your PIN to confirm it is really you.</p>
</article></main>
<footer>Copyright Northwind Bank. Cookie settings. Privacy policy.</footer></body></html>"""


def test_html_keeps_main_content_not_navigation() -> None:
    sections = load_html(HTML.encode(), "card-help.html", COLS, [])
    text = "\n".join(s.text for s in sections)
    assert "freeze it immediately" in text
    assert "contactless limit" in text
    assert "Loans menu item" not in text
    assert "Cookie settings" not in text


def test_html_without_content_fails() -> None:
    with pytest.raises(DocumentLoadError, match="no main text"):
        load_html(b"<html><body><div></div></body></html>", "x.html", COLS, [])


def _pdf(pages: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_title("Loan guide")
    pdf.set_font("helvetica", size=12)
    for page in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, page)
    return bytes(pdf.output())


def test_pdf_pages_become_sections() -> None:
    data = _pdf(["Early repayment is free of charge.", "Missed payments cost 12 pounds."])
    sections = load_pdf(data, "loans.pdf", COLS, [])
    assert [s.location for s in sections] == ["page 1", "page 2"]
    assert sections[0].title == "Loan guide"
    assert "Early repayment" in sections[0].text


def test_corrupt_pdf_fails_clearly() -> None:
    with pytest.raises(DocumentLoadError, match="unreadable PDF"):
        load_pdf(b"%PDF-1.4 garbage", "x.pdf", COLS, [])


def test_unsupported_extension() -> None:
    with pytest.raises(UnsupportedFileError, match=r"unsupported file type '\.docx'"):
        loader_for(Path("notes.docx"))


def test_every_default_limit_is_sane() -> None:
    config = ChunkingConfig()
    assert config.chunk_overlap < config.chunk_size
