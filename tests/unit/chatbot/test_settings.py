from __future__ import annotations

import pytest
from pydantic import ValidationError

from chatbot.settings import Settings


def test_environment_variables_with_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATBOT_INDEX_DIR", "/srv/index")
    monkeypatch.setenv("CHATBOT_API_KEYS", "k1, k2,")
    monkeypatch.setenv("CHATBOT_EMBEDDING_BACKEND", "torch")
    settings = Settings()
    assert str(settings.index_dir) == "/srv/index"
    assert settings.api_keys == ["k1", "k2"]
    assert settings.embedding().backend == "torch"


def test_placeholder_keys_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", admin_keys=["changeme"])
    Settings(environment="development", admin_keys=["changeme"])
    Settings(
        environment="production",
        api_keys=["a-long-random-chat-key-456"],
        admin_keys=["a-long-random-admin-key-123"],
    )


def test_production_needs_chat_keys() -> None:
    with pytest.raises(ValidationError, match="CHATBOT_API_KEYS"):
        Settings(environment="production", admin_keys=["a-long-random-admin-key-123"])
    keys = Settings(api_keys="k1-0123456789abcdef, k2-0123456789abcdef")  # type: ignore[arg-type]
    assert keys.api_keys == ["k1-0123456789abcdef", "k2-0123456789abcdef"]


def test_invalid_values_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(embedding_backend="tensorflow")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="chunk_overlap"):
        Settings(chunk_size=200, chunk_overlap=200)


def test_config_objects_mirror_settings() -> None:
    settings = Settings(faq_question_column="Frage", min_relevance=0.5, ann_threshold=10)
    assert settings.chunking().columns.question == "Frage"
    assert settings.search().min_relevance == 0.5
    assert settings.index().ann_threshold == 10
