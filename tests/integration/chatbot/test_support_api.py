"""Answer once, over HTTP: ``POST/PUT/DELETE /admin/faq`` publish the admin's entries through
the regression gate on a private copy of the sample index, and the next turn answers from
them; a refused change is taken back (409), a missing entry is a 404, and deleting the last
entry takes the admin's document out of the served index."""

from __future__ import annotations

from pathlib import Path

from chatbot.settings import Settings
from ingest.store import current_version, load_version
from tests.integration.chatbot.conftest import ADMIN, ApiServer, problem, variant

PET_QUESTION = "Do you offer pet insurance?"
PET_ANSWER = "Yes: Northwind Pet Cover starts at 6 pounds a month."
PET_CHANGED = "Yes: Northwind Pet Cover starts at 7 pounds a month."
CLOSE = "How do I close my account?"


def sources(index_dir: Path) -> set[str]:
    return set(load_version(index_dir).manifest.documents)


def test_admin_entries_are_published_changed_refused_and_deleted(
    api_settings: Settings, private_data: tuple[Path, Path], tmp_path: Path
) -> None:
    data, index_dir = private_data
    faq_file = tmp_path / "admin" / "admin-faq.csv"
    settings = variant(
        api_settings,
        data_dir=data,
        index_dir=index_dir,
        admin_faq_file=faq_file,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/chatbot.db",
        gate_max_drop=0.0,  # one refused question is enough to refuse
    )
    with ApiServer(settings) as api:
        before = api.chat(PET_QUESTION)
        assert before["answered_by"] != "curated", before

        added = api.client.post(
            "/admin/faq", json={"question": PET_QUESTION, "answer": PET_ANSWER}, headers=ADMIN
        )
        assert added.status_code == 201, added.text
        entry = added.json()["entry"]
        assert added.json()["ingest"]["published"] is True
        assert "admin-faq.csv" in sources(index_dir) and faq_file.is_file()
        reply = api.chat(PET_QUESTION)
        assert (reply["answered_by"], reply["answer"]) == ("curated", PET_ANSWER)

        changed = api.client.put(
            f"/admin/faq/{entry['id']}",
            json={"question": PET_QUESTION, "answer": PET_CHANGED},
            headers=ADMIN,
        )
        assert changed.status_code == 200, changed.text
        assert api.chat(PET_QUESTION)["answer"] == PET_CHANGED

        # An entry that says another thing for an FAQ question the index already answers takes
        # that question's rank 1: the gate refuses, and nothing changes.
        served = current_version(index_dir)
        refused = api.client.post(
            "/admin/faq", json={"question": CLOSE, "answer": "Write to us."}, headers=ADMIN
        )
        body = problem(refused, 409)
        assert body["type"] == "urn:chatbot:problem:gate-refused"
        assert body["gate"]["passed"] is False  # type: ignore[index]
        assert current_version(index_dir) == served
        listed = api.client.get("/admin/faq", headers=ADMIN).json()["entries"]
        assert [e["id"] for e in listed] == [entry["id"]]
        assert api.chat(CLOSE)["answer"] != "Write to us."

        missing = api.client.put(
            "/admin/faq/adm-nothing-here", json={"question": "q", "answer": "a"}, headers=ADMIN
        )
        problem(missing, 404)
        problem(api.client.delete("/admin/faq/adm-nothing-here", headers=ADMIN), 404)
        blank = api.client.post("/admin/faq", json={"question": " ", "answer": "a"}, headers=ADMIN)
        problem(blank, 400)

        deleted = api.client.delete(f"/admin/faq/{entry['id']}", headers=ADMIN)
        assert deleted.status_code == 200, deleted.text
        documents = {d["source"]: d["status"] for d in deleted.json()["ingest"]["documents"]}
        assert documents == {"admin-faq.csv": "removed"} | {
            source: "unchanged" for source in documents if source != "admin-faq.csv"
        }
        assert "admin-faq.csv" not in sources(index_dir) and not faq_file.exists()
        assert api.client.get("/admin/faq", headers=ADMIN).json()["entries"] == []
        assert api.chat(PET_QUESTION)["answered_by"] != "curated"
