"""The official ``openai`` client works unchanged against the OpenAI-compatible routes."""

from __future__ import annotations

import openai
import pytest

from tests.integration.chatbot.conftest import CHAT_KEY, ApiServer


@pytest.fixture
def client(api: ApiServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{api.url}/v1", api_key=CHAT_KEY, max_retries=0)


def test_models_list(client: openai.OpenAI, api: ApiServer) -> None:
    assert [m.id for m in client.models.list()] == [api.settings.model_name]


def test_completion_and_stream_agree(client: openai.OpenAI, api: ApiServer) -> None:
    question = "My card has been stolen, what now?"
    raw = client.chat.completions.with_raw_response.create(
        model=api.settings.model_name, messages=[{"role": "user", "content": question}]
    )
    completion = raw.parse()
    answer = completion.choices[0].message.content
    finish = completion.choices[0].finish_reason
    # "content_filter": the output rail retracted the model's answer (the fallback is sent).
    assert answer and finish in {"stop", "content_filter"}
    assert raw.headers["x-session-id"]

    stream = client.chat.completions.create(
        model=api.settings.model_name,
        messages=[{"role": "user", "content": question}],
        stream=True,
    )
    chunks = [c.choices[0] for c in stream if c.choices]
    deltas = [c.delta.content or "" for c in chunks]
    assert len([d for d in deltas if d]) > 1
    assert chunks[-1].finish_reason == finish
    streamed = "".join(deltas).strip()
    # An OpenAI stream cannot unsend text: a retracted answer ends with the fallback.
    assert streamed == answer if finish == "stop" else streamed.endswith(answer)


def test_session_header_carries_the_conversation(client: openai.OpenAI, api: ApiServer) -> None:
    session = "openai-session-0001"
    for question in ("Can I repay my loan early?", "is there a fee for that?"):
        client.chat.completions.create(
            model=api.settings.model_name,
            messages=[{"role": "user", "content": question}],
            extra_headers={"X-Session-Id": session},
        )
    turns = api.client.get(f"/v1/sessions/{session}").json()["turns"]
    assert [t["user"] for t in turns][-2:] == [
        "Can I repay my loan early?",
        "is there a fee for that?",
    ]
    api.client.delete(f"/v1/sessions/{session}")


def test_wrong_key_is_an_authentication_error(api: ApiServer) -> None:
    bad = openai.OpenAI(base_url=f"{api.url}/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
