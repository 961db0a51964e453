"""The regression gate over HTTP: ``POST /admin/ingest`` reports it, a refusal is a 200 with
``published: false`` and the served index untouched, ``force`` publishes, a bad golden file is
a 422 problem."""

from __future__ import annotations

from pathlib import Path

from chatbot.settings import Settings
from ingest.store import current_version
from tests.integration.chatbot.conftest import ADMIN, ApiServer, variant
from tests.integration.test_gate import DUPLICATES


def test_admin_ingest_reports_refuses_and_forces(
    api_settings: Settings, private_data: tuple[Path, Path], tmp_path: Path
) -> None:
    data, index_dir = private_data
    faq_file = tmp_path / "admin-faq.csv"
    golden = tmp_path / "golden.csv"
    golden.write_text('question,expected\n"my card has been stolen, what should I do",card-001\n')
    settings = variant(
        api_settings,
        data_dir=data,
        index_dir=index_dir,
        admin_faq_file=faq_file,
        golden_file=golden,
    )
    with ApiServer(settings) as api:
        served = current_version(index_dir)
        faq_file.write_text(DUPLICATES)
        refused = api.client.post("/admin/ingest", json={}, headers=ADMIN)
        assert refused.status_code == 200, refused.text
        report = refused.json()
        assert report["published"] is False and report["version"] == served
        assert report["not_published"].startswith("recall@1 fell from 1.00")
        gate = report["gate"]
        assert (gate["passed"], gate["forced"], gate["recall_at_1_live"]) == (False, False, 1.0)
        assert gate["compared"] > 60 and len(gate["regressions"]) == 3
        assert current_version(index_dir) == served
        assert api.chat("How do I close my account?")["answered_by"] == "curated"

        golden.write_text("question\nlost card\n")
        bad = api.client.post("/admin/ingest", json={"force": True}, headers=ADMIN)
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "the columns question and expected" in bad.json()["detail"]
        assert current_version(index_dir) == served

        golden.write_text("question,expected\n")
        forced = api.client.post("/admin/ingest", json={"force": True}, headers=ADMIN)
        assert forced.status_code == 200, forced.text
        report = forced.json()
        assert report["published"] is True and report["not_published"] is None
        assert report["gate"]["forced"] is True
        assert current_version(index_dir) == report["version"] != served
        documents = {d["source"]: d["status"] for d in report["documents"]}
        assert documents["admin-faq.csv"] == "added"
