"""File loaders: one function per format, each turning bytes into :class:`Section` objects.

Loaders raise :class:`DocumentLoadError` for a file they cannot read at all and record
row-level problems (a malformed CSV row, a JSONL line that is not JSON) as warnings so the
rest of the file still counts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import trafilatura
from langchain_text_splitters import MarkdownHeaderTextSplitter
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ingest.config import FaqColumns
from ingest.errors import DocumentLoadError, UnsupportedFileError
from ingest.models import Section

Loader = Callable[[bytes, str, FaqColumns, list[str]], list[Section]]

_HEADINGS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentLoadError(f"not UTF-8 text (byte {exc.start})") from exc


def _clean(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _faq_section(row: Mapping[str, Any], cols: FaqColumns, where: str) -> Section | str:
    """One FAQ pair, or a warning message when the row is unusable."""
    lowered = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
    question = _clean(lowered.get(cols.question.lower()))
    answer = _clean(lowered.get(cols.answer.lower()))
    if not question or not answer:
        missing = " and ".join(n for n, v in (("question", question), ("answer", answer)) if not v)
        return f"{where}: skipped, missing {missing}"
    return Section(
        title=question,
        text=f"{question}\n{answer}",
        kind="faq",
        answer=answer,
        url=_clean(lowered.get(cols.url.lower())) or None,
        category=_clean(lowered.get(cols.category.lower())) or None,
        entry_id=_clean(lowered.get(cols.id.lower())) or None,
        location=where,
    )


def _collect(
    rows: Iterable[tuple[str, Any]], cols: FaqColumns, warnings: list[str]
) -> list[Section]:
    sections: list[Section] = []
    for where, row in rows:
        if not isinstance(row, Mapping):
            warnings.append(f"{where}: skipped, expected an object with question and answer")
            continue
        result = _faq_section(row, cols, where)
        if isinstance(result, str):
            warnings.append(result)
        else:
            sections.append(result)
    return sections


def load_csv(data: bytes, name: str, cols: FaqColumns, warnings: list[str]) -> list[Section]:
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    headers = [h.strip().lower() for h in reader.fieldnames or []]
    needed = [cols.question.lower(), cols.answer.lower()]
    if not all(h in headers for h in needed):
        raise DocumentLoadError(
            f"CSV header must name the columns {needed} (found {headers or 'no header'})"
        )

    def rows() -> Iterable[tuple[str, Any]]:
        for row in reader:
            where = f"line {reader.line_num}"
            if None in row:  # more fields than headers
                extra = len(row[None])
                warnings.append(
                    f"{where}: skipped, {len(headers) + extra} fields for {len(headers)} columns"
                )
                continue
            yield where, row

    try:
        return _collect(rows(), cols, warnings)
    except csv.Error as exc:
        raise DocumentLoadError(f"malformed CSV: {exc}") from exc


def load_json(data: bytes, name: str, cols: FaqColumns, warnings: list[str]) -> list[Section]:
    try:
        doc = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise DocumentLoadError(f"invalid JSON: {exc}") from exc
    if isinstance(doc, dict):
        # Accept a wrapper object such as {"faqs": [...]} holding the single list.
        lists = [v for v in doc.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise DocumentLoadError("JSON must be a list of FAQ objects or hold exactly one list")
        doc = lists[0]
    if not isinstance(doc, list):
        raise DocumentLoadError("JSON must be a list of FAQ objects")
    return _collect(((f"item {i}", row) for i, row in enumerate(doc, 1)), cols, warnings)


def load_jsonl(data: bytes, name: str, cols: FaqColumns, warnings: list[str]) -> list[Section]:
    def rows() -> Iterable[tuple[str, Any]]:
        for n, line in enumerate(_decode(data).splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield f"line {n}", json.loads(line)
            except json.JSONDecodeError as exc:
                warnings.append(f"line {n}: skipped, invalid JSON ({exc.msg})")

    return _collect(rows(), cols, warnings)


def markdown_sections(text: str, default_title: str) -> list[Section]:
    """Split on headings; a heading that ends with '?' and has a body is an FAQ pair."""
    splitter = MarkdownHeaderTextSplitter(headers_to_split_on=_HEADINGS, strip_headers=True)
    sections: list[Section] = []
    for part in splitter.split_text(text):
        body = part.page_content.strip()
        if not body:
            continue
        path = [part.metadata[key] for _, key in _HEADINGS if key in part.metadata]
        title = path[-1] if path else default_title
        location = " > ".join(path) or None
        if title.endswith("?"):
            sections.append(
                Section(
                    title=title, text=f"{title}\n{body}", kind="faq", answer=body, location=location
                )
            )
        else:
            sections.append(Section(title=title, text=body, location=location))
    return sections


def load_markdown(data: bytes, name: str, cols: FaqColumns, warnings: list[str]) -> list[Section]:
    return markdown_sections(_decode(data), Path(name).stem)


def load_text(data: bytes, name: str, cols: FaqColumns, warnings: list[str]) -> list[Section]:
    text = _decode(data).strip()
    return [Section(title=Path(name).stem, text=text)] if text else []


def load_html(data: bytes, name: str, cols: FaqColumns, warnings: list[str]) -> list[Section]:
    html = _decode(data)
    # trafilatura keeps the main content and drops navigation, footers and boilerplate.
    markdown = trafilatura.extract(
        html, output_format="markdown", include_links=False, include_images=False, favor_recall=True
    )
    if not markdown:
        raise DocumentLoadError("no main text found in the HTML page")
    meta = trafilatura.extract_metadata(html)
    title = (meta.title if meta is not None and meta.title else None) or Path(name).stem
    return markdown_sections(markdown, title)


def load_pdf(data: bytes, name: str, cols: FaqColumns, warnings: list[str]) -> list[Section]:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentLoadError("the PDF is encrypted")
        title = Path(name).stem
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title)
        sections = []
        for n, page in enumerate(reader.pages, 1):
            text = (page.extract_text() or "").strip()
            if text:
                sections.append(Section(title=title, text=text, location=f"page {n}"))
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentLoadError(f"unreadable PDF: {exc}") from exc
    if not sections:
        warnings.append("no extractable text (a scanned PDF needs OCR first)")
    return sections


LOADERS: dict[str, Loader] = {
    ".csv": load_csv,
    ".json": load_json,
    ".jsonl": load_jsonl,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
}


def loader_for(path: Path) -> Loader:
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        supported = ", ".join(sorted(LOADERS))
        raise UnsupportedFileError(
            f"unsupported file type {path.suffix or '(none)'!r}; supported: {supported}"
        )
    return loader
