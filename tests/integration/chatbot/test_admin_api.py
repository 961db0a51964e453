"""Admin ingest over HTTP (uploads and server paths, the CLI's code) and index statistics."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from chatbot.settings import Settings
from ingest.store import current_version
from tests.integration.chatbot.conftest import ADMIN, ApiServer, variant

NEW_FAQ = (
    "id,question,answer,url\n"
    "pet-001,Do you offer pet insurance?,Yes: Northwind Pet Cover starts at 6 pounds a month "
    "and covers vet bills up to 4000 pounds a year.,https://help.northwind.example/pet-cover\n"
)


def test_upload_then_bad_upload_then_server_path(
    api_settings: Settings, private_data: tuple[Path, Path]
) -> None:
    data, index_dir = private_data
    with ApiServer(variant(api_settings, data_dir=data, index_dir=index_dir)) as api:
        before = api.client.get("/admin/index", headers=ADMIN).json()
        assert before["version"] == current_version(index_dir)
        assert before["chunks"] > 70 if "chunks" in before else before["counts"]

        files = {"files": ("pets.csv", NEW_FAQ.encode(), "text/csv")}
        done = api.client.post("/admin/ingest/files", files=files, headers=ADMIN)
        assert done.status_code == 200, done.text
        added = [d for d in done.json()["documents"] if d["status"] == "added"]
        assert [d["source"] for d in added] == ["data/uploads/pets.csv"]
        reply = api.chat("Do you offer pet insurance?")
        assert reply["answered_by"] == "curated"
        assert reply["citations"][0]["url"] == "https://help.northwind.example/pet-cover"

        served = current_version(index_dir)
        bad = {"files": ("broken.json", b"{not json", "application/json")}
        refused = api.client.post("/admin/ingest/files", files=bad, headers=ADMIN)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "broken.json" in refused.json()["detail"]
        assert current_version(index_dir) == served
        assert not (data / "uploads" / "broken.json").exists()

        wrong_type = {"files": ("notes.exe", b"MZ", "application/octet-stream")}
        wrong = api.client.post("/admin/ingest/files", files=wrong_type, headers=ADMIN)
        assert wrong.status_code == 415
        outside = api.client.post("/admin/ingest", json={"paths": ["../../etc"]}, headers=ADMIN)
        assert outside.status_code == 403
        assert str(data) not in outside.text  # the detail names no server folder

        dry = api.client.post("/admin/ingest", json={"dry_run": True}, headers=ADMIN)
        assert dry.status_code == 200 and current_version(index_dir) == served
        (data / "uploads" / "pets.csv").unlink()
        again = api.client.post("/admin/ingest", json={}, headers=ADMIN)
        assert again.status_code == 200
        assert any(d["status"] == "removed" for d in again.json()["documents"])
        assert api.chat("Do you offer pet insurance?")["answered_by"] != "curated"


def test_ingest_does_not_block_chat(
    api_settings: Settings, private_data: tuple[Path, Path]
) -> None:
    data, index_dir = private_data
    with ApiServer(variant(api_settings, data_dir=data, index_dir=index_dir)) as api:
        finished: dict[str, float] = {}

        def ingest() -> None:
            # --full re-embeds every chunk with a freshly loaded model: seconds of work.
            response = api.client.post("/admin/ingest", json={"full": True}, headers=ADMIN)
            assert response.status_code == 200, response.text
            finished["ingest"] = time.monotonic()

        worker = threading.Thread(target=ingest)
        worker.start()
        time.sleep(0.5)
        busy = api.client.post("/admin/ingest", json={}, headers=ADMIN)
        assert busy.status_code == 409  # one ingest at a time
        reply = api.chat("How do I report a lost or stolen card?")
        finished["chat"] = time.monotonic()
        worker.join()
        assert reply["answered_by"] == "curated"
        assert finished["chat"] < finished["ingest"], "the chat turn waited for the ingest"
