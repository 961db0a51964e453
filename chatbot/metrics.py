"""Prometheus metrics of the chat pipeline (exported at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

STAGE_SECONDS = Histogram(
    "chatbot_stage_seconds",
    "Time spent in each stage of a chat turn.",
    ["stage"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
TURNS = Counter("chatbot_turns_total", "Chat turns by how they were answered.", ["answer"])
LLM_CALLS = Counter("chatbot_llm_calls_total", "Generation calls made through Triton.")
TURN_ERRORS = Counter("chatbot_turn_errors_total", "Turns that failed, by error type.", ["error"])
FEEDBACK = Counter("chatbot_feedback_total", "Feedback on answers.", ["rating"])
ABANDONED = Counter(
    "chatbot_generations_abandoned_total",
    "Generations stopped because the caller went away (e.g. a client disconnect).",
)
