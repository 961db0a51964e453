"""The demo page and ``/widget.js`` (headers, caching, the unbuilt case), and the widget's SSE
parser run by Node on the chunkings a network can produce."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.plugins.problem_details import ProblemDetailsPlugin
from litestar.testing import TestClient

from chatbot.api import problems, web

WIDGET = Path(__file__).resolve().parents[3] / "chatbot" / "widget"


def client() -> TestClient[Litestar]:
    app = Litestar(
        route_handlers=[web.demo_page, web.widget_script],
        plugins=[ProblemDetailsPlugin(problems.Problems(production=False).config())],
    )
    return TestClient(app)


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A web folder with the demo page and a stand-in bundle."""
    shutil.copy(Path(web.__file__).parents[1] / "web" / "index.html", tmp_path / "index.html")
    script = b"/* widget */ console.log('hi');" * 50
    (tmp_path / "widget.js").write_bytes(script)
    monkeypatch.setattr(web, "WEB", tmp_path)
    return script


def test_demo_page_embeds_the_widget_under_a_strict_csp(built: bytes) -> None:
    with client() as http:
        response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1][:20]
    assert '<script src="/widget.js"' in response.text
    assert "<script>" not in response.text  # no inline script: the CSP would block it


def test_widget_is_javascript_cached_and_revalidated(built: bytes) -> None:
    with client() as http:
        first = http.get("/widget.js", headers={"Accept-Encoding": "identity"})
        assert first.status_code == 200
        assert first.headers["content-type"] == "text/javascript; charset=utf-8"
        assert first.headers["x-content-type-options"] == "nosniff"
        assert first.headers["cache-control"] == "public, max-age=300"
        assert first.headers["cross-origin-resource-policy"] == "cross-origin"
        assert first.content == built
        etag = first.headers["etag"]
        again = http.get("/widget.js", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag


def test_widget_is_gzipped_for_clients_that_accept_it(built: bytes) -> None:
    with client() as http:
        response = http.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.content == built  # the client decoded it
    assert len(gzip.compress(built)) < len(built)


def test_unbuilt_widget_is_a_503_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "WEB", tmp_path)
    with client() as http:
        response = http.get("/widget.js")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == "urn:chatbot:problem:widget-not-built"
    assert "npm run build" in body["detail"]


_PARSE = """
import { createSSEParser } from "./src/sse.js";
const cases = JSON.parse(process.argv[1]);
const out = cases.map((chunks) => {
  const events = [];
  const parser = createSSEParser((name, data) => events.push([name, data]));
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return events;
});
console.log(JSON.stringify(out));
"""


def _parse(*cases: list[str]) -> list[list[list[str]]]:
    node = shutil.which("node")
    assert node, "Node.js is needed to build and test the widget"
    done = subprocess.run(
        [node, "--input-type=module", "-e", _PARSE, json.dumps(cases)],
        cwd=WIDGET,
        capture_output=True,
        text=True,
        check=True,
    )
    result: list[list[list[str]]] = json.loads(done.stdout)
    return result


def test_sse_parser_accepts_crlf_lf_and_cr_split_anywhere() -> None:
    crlf = 'event: token\r\ndata: {"text":"Hi"}\r\n\r\nevent: done\r\ndata: {}\r\n\r\n'
    lf = crlf.replace("\r\n", "\n")
    cr = crlf.replace("\r\n", "\r")
    expected = [["token", '{"text":"Hi"}'], ["done", "{}"]]
    one_by_one = list(crlf)
    split_crlf = [crlf[:13], crlf[13:]]  # between the "\r" and the "\n" of the first line
    assert crlf[12] == "\r"
    results = _parse([crlf], [lf], [cr], one_by_one, split_crlf)
    assert all(events == expected for events in results), results


def test_sse_parser_joins_data_lines_skips_comments_and_flushes_at_end() -> None:
    stream = ": keep-alive\ndata: a\ndata: b\n\nevent: done\ndata: {}"
    assert _parse([stream]) == [[["message", "a\nb"], ["done", "{}"]]]
