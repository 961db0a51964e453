"""The one settings object (pydantic-settings, ``CHATBOT_`` prefix, optional ``.env``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ingest.config import (
    ChunkingConfig,
    EmbeddingBackend,
    EmbeddingConfig,
    FaqColumns,
    IndexConfig,
    SearchConfig,
)
from rails.calibration import CALIBRATION

_PLACEHOLDERS = {"", "changeme", "change-me", "secret", "password", "test", "dev", "example"}
# The relevance thresholds come from rails/calibration.json; set here they override it.
_RAILS = CALIBRATION.faq


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATBOT_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")
    index_dir: Path = Path(".chatbot/index")
    cache_dir: Path = Path(".chatbot/cache")

    # Access keys (comma separated in the environment); placeholders refused in production.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Embeddings
    embedding_model: Path | None = None
    embedding_backend: EmbeddingBackend = "onnx-int8"
    embedding_device: Literal["auto", "cpu", "cuda"] = "auto"
    embedding_batch_size: int = Field(default=32, ge=1, le=4096)
    embedding_max_seq_length: int = Field(default=256, ge=16, le=512)

    # Chunking and FAQ file columns
    chunk_size: int = Field(default=800, ge=100, le=8000)
    chunk_overlap: int = Field(default=100, ge=0, le=2000)
    max_file_bytes: int = Field(default=20_000_000, ge=1)
    faq_question_column: str = "question"
    faq_answer_column: str = "answer"
    faq_category_column: str = "category"
    faq_url_column: str = "url"
    faq_id_column: str = "id"

    # Index and search
    ann_threshold: int = Field(default=50_000, ge=1)
    keep_versions: int = Field(default=3, ge=1)
    search_k: int = Field(default=5, ge=1, le=100)
    search_candidates: int = Field(default=30, ge=1, le=1000)
    lexical_weight: float = Field(default=0.05, ge=0.0, le=10.0)
    min_relevance: float = Field(default=0.30, ge=-1.0, le=1.0)
    nprobe: int = Field(default=32, ge=1)

    # Generation through Triton
    triton_url: str = "127.0.0.1:8001"
    triton_dialect: Literal["llmapi", "ensemble"] = "llmapi"
    tokenizer: Path | None = None
    """Folder with the served model's tokenizer (chat template); default: the embedded model."""
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    max_tokens: int = Field(default=128, ge=1, le=8192)
    """Default and cap for generated tokens per answer (requests may ask for fewer)."""
    stop: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["\n\n"])
    """Stop strings: answers are short paragraphs; small models ramble on after the first."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    # The embedded engine started by `chatbot up` (gRPC on triton_url's port)
    engine_model: Path | None = None
    """A .gguf file or Hugging Face causal-LM folder; default: SmolLM2-135M-Instruct."""
    engine_http_port: int = Field(default=8010, ge=1, le=65535)
    engine_metrics_port: int = Field(default=8012, ge=1, le=65535)

    # Turn pipeline
    rails_config: Path | None = None
    """A NeMo Guardrails config folder; default: the ``rails/`` profile named below."""
    rails_profile: str = "default"
    nemo_runtime: Literal["fast", "stock"] = "fast"
    """``stock`` runs the rails on NeMo Guardrails as it ships (``generate_async``), without
    the speed-ups of ``chatbot.nemo``: the same verdicts, slower; the way to keep serving while
    the speed-ups are ported to a new NeMo version."""
    history_turns: int = Field(default=6, ge=0, le=50)
    """Turns of history given to the prompt and to follow-up rewriting."""
    context_chunks: int = Field(default=3, ge=1, le=20)
    conversation_turns: int = Field(default=3, ge=0, le=20)
    """Earlier user messages the conversation-level injection check reads with a new one."""
    prompt_history_turns: int = Field(default=2, ge=0, le=20)
    """Earlier turns given to the model (a small model loses the question in long prompts)."""
    # The answer policy (chatbot.policy) and the on-topic side of the rails; the cosines are
    # calibrated on external corpora's development splits (bench/answers.py --calibrate).
    curated_threshold: float = Field(default=_RAILS.curated, ge=0.0, le=1.0)
    """Cosine of user question and FAQ question at or above which the FAQ answer is returned
    as it is, without calling the model."""
    entry_threshold: float = Field(default=_RAILS.entry, ge=0.0, le=1.0)
    """Relevance of the best hit, an FAQ entry, from which that entry is shown as written
    (``faq_entry``) instead of a generated answer."""
    answer_threshold: float = Field(default=_RAILS.answer, ge=-1.0, le=1.0)
    """Relevance of the best hit below which the bot abstains and offers a human."""
    on_topic_threshold: float = Field(default=_RAILS.on_topic, ge=-1.0, le=1.0)
    """Relevance of the best hit from which a message is on topic: never refused as off-topic,
    and withheld from the model rather than refused when only the injection classifier doubts
    it."""
    bot_name: str = Field(default="", max_length=100)
    """Who the bot speaks for ("Acme Bank"); empty: "our bank"."""
    bot_scope: str = Field(default="", max_length=300)
    """What it helps with ("accounts, cards and loans"); empty: the served FAQ's categories."""
    suggest_threshold: float = Field(default=_RAILS.suggest, ge=0.0, le=1.0)
    """Relevance of the best-ranked FAQ entry at or above which a model answer the output rails
    retract (or the input rails withhold) is replaced by that entry's answer (offered as the
    closest entry)."""
    model_name: str = "northwind-faq"
    """Model id shown on the OpenAI-compatible API."""

    # Sessions: Redis when a URL is set, else in-process memory
    redis_url: str | None = None
    session_ttl_seconds: int = Field(default=86_400, ge=1)
    session_max_turns: int = Field(default=20, ge=1, le=1000)

    # Durable store (turn log, feedback): a SQLite file by default, PostgreSQL in compose/CI
    database_url: str = "sqlite+aiosqlite:///.chatbot/chatbot.db"
    """SQLAlchemy URL of the durable store (``postgresql+asyncpg://...`` for PostgreSQL; the
    sync forms ``sqlite:///`` and ``postgresql://`` get the async driver). A relative SQLite
    path resolves against the working directory, like ``index_dir``."""
    retention_days: int = Field(default=90, ge=1, le=3650)
    """Days turns and feedback are kept in the durable store before they are purged."""
    turn_log_queue: int = Field(default=10_000, ge=1)
    """Turn records waiting to be written at most; beyond it records are dropped (and
    counted) rather than slowing a turn down."""

    # The support team's loop: gaps, answers the admin writes, the regression gate, handoff
    gap_similarity: float = Field(default=CALIBRATION.gaps.similarity, ge=0.0, le=1.0)
    """Mean cosine between two groups of unanswered questions at or above which they are
    one FAQ gap (average linkage, ``chatbot.gaps``)."""
    admin_faq_file: Path = Path(".chatbot/admin-faq.csv")
    """The FAQ entries written in the admin console or ``/admin/faq`` (kept in the durable
    store, written here for the ingest): ingested with every run, whatever paths are given."""
    golden_file: Path | None = None
    """Golden questions the admin keeps for the regression gate: a CSV or JSON Lines file of
    ``question`` and ``expected`` (the FAQ question or id that must come first)."""
    gate_max_drop: float = Field(default=0.02, ge=0.0, le=1.0)
    """How much recall@1 on the golden questions a new index version may lose against the
    served one before the gate refuses to publish it (``--force`` publishes anyway)."""
    handoff_webhook_url: str | None = None
    """Where a handoff to a person is POSTed (JSON, signed with ``handoff_webhook_secret``)."""
    handoff_webhook_secret: str | None = None
    """The HMAC-SHA256 key of the ``X-Chatbot-Signature`` header; required with a webhook."""
    handoff_attempts: int = Field(default=5, ge=1, le=20)
    """Deliveries tried per handoff (with exponential backoff) before it is marked failed."""
    handoff_timeout: float = Field(default=10.0, gt=0, le=120)
    """Seconds one webhook delivery may take."""
    support_contact: str = Field(default="", max_length=500)
    """How customers reach a person ("call 0800 123 456, 8am-8pm"), said when no webhook
    takes handoffs; empty: the bank's website's contact page."""

    # HTTP API
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_message_chars: int = Field(default=2000, ge=1, le=100_000)
    rate_limit_per_minute: int = Field(default=60, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _split_keys(cls, data: object) -> object:
        if isinstance(data, dict):
            for name in ("api_keys", "admin_keys", "cors_origins", "stop"):
                value = data.get(name)
                if isinstance(value, str):
                    data[name] = [k.strip() for k in value.split(",") if k.strip()]
        return data

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment == "production":
            weak = [
                k
                for k in (*self.api_keys, *self.admin_keys)
                if k.lower() in _PLACEHOLDERS or len(k) < 16
            ]
            if weak:
                raise ValueError(
                    "placeholder or short (<16 chars) API/admin keys are refused in production"
                )
        if self.environment == "production" and not self.api_keys:
            raise ValueError("production needs CHATBOT_API_KEYS: the chat API is never open there")
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.handoff_webhook_url and not self.handoff_webhook_secret:
            raise ValueError("CHATBOT_HANDOFF_WEBHOOK_URL needs CHATBOT_HANDOFF_WEBHOOK_SECRET")
        if self.handoff_webhook_secret is not None and (
            self.handoff_webhook_secret.lower() in _PLACEHOLDERS
            or len(self.handoff_webhook_secret) < 16
        ):
            raise ValueError(
                "CHATBOT_HANDOFF_WEBHOOK_SECRET must be 16+ characters and no placeholder"
            )
        return self

    @property
    def local_only(self) -> bool:
        """Bound to the loopback interface: the only case where an API without keys is allowed."""
        return self.host in {"127.0.0.1", "localhost", "::1"}

    def rails_path(self) -> Path:
        if self.rails_config is not None:
            return self.rails_config
        from rails import profile_path

        return profile_path(self.rails_profile)

    def embedding(self) -> EmbeddingConfig:
        return EmbeddingConfig(
            model_path=self.embedding_model,
            backend=self.embedding_backend,
            device=self.embedding_device,
            batch_size=self.embedding_batch_size,
            max_seq_length=self.embedding_max_seq_length,
            cache_dir=self.cache_dir,
        )

    def chunking(self) -> ChunkingConfig:
        columns = FaqColumns(
            question=self.faq_question_column,
            answer=self.faq_answer_column,
            category=self.faq_category_column,
            url=self.faq_url_column,
            id=self.faq_id_column,
        )
        return ChunkingConfig(
            chunk_size=self.chunk_size,
            chunk_overlap=self.chunk_overlap,
            max_file_bytes=self.max_file_bytes,
            columns=columns,
        )

    def index(self) -> IndexConfig:
        return IndexConfig(ann_threshold=self.ann_threshold, keep_versions=self.keep_versions)

    def search(self) -> SearchConfig:
        return SearchConfig(
            k=self.search_k,
            candidates=self.search_candidates,
            lexical_weight=self.lexical_weight,
            min_relevance=self.min_relevance,
            nprobe=self.nprobe,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
