"""What ``/schema`` says beyond what Litestar derives from the handlers, so that the schema
describes the API as it behaves (schemathesis checks it in ``tests/integration``):

* error responses are problem details (``application/problem+json``), listed per route;
* models are described by pydantic's own JSON Schema (Litestar's translation loses
  constraints), and the chat message's length is the configured ``CHATBOT_MAX_MESSAGE_CHARS``;
* a route that answers JSON or Server-Sent Events documents both media types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.openapi.spec.media_type import OpenAPIMediaType
from litestar.plugins.pydantic import PydanticSchemaPlugin
from pydantic.errors import PydanticInvalidForJsonSchema

from chatbot.api.schemas import ChatRequest, Problem

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition

PROBLEM_JSON = "application/problem+json"
EVENT_STREAM = "text/event-stream"

# Every route may answer these: an unexpected error, and (outside /health, /metrics, /schema
# and the demo page) the rate limit.
_ALWAYS = (500,)
LIMITED = (429, *_ALWAYS)
# A JSON body: malformed or invalid (400), too large (413), not JSON (415).
JSON_BODY = (400, 413, 415)
# A chat turn: the session store, the index or the engine unavailable, the engine refusing or
# timing out.
TURN = (*JSON_BODY, 401, 502, 503, 504)
ADMIN = (401, 403)


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem responses of a route: ``statuses`` plus the unexpected error."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=HTTPStatus(status).phrase,
            generate_examples=False,
        )
        for status in sorted({*statuses, *_ALWAYS})
    }


class ApiSchemaPlugin(PydanticSchemaPlugin):
    """Pydantic models as pydantic itself describes them in JSON Schema. Litestar's own
    translation drops constraints nested in ``X | None`` and in list items, patterns, and
    ``extra="forbid"``, so the schema would admit bodies the API refuses. A model pydantic
    cannot describe (one holding an ``UploadFile``) keeps Litestar's schema."""

    def __init__(self, max_message_chars: int) -> None:
        super().__init__()
        self.max_message_chars = max_message_chars

    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        model = field_definition.annotation
        try:
            document = model.model_json_schema()
        except PydanticInvalidForJsonSchema:
            return super().to_openapi_schema(field_definition, schema_creator)
        if model is ChatRequest:
            document["properties"]["message"]["maxLength"] = self.max_message_chars
        schema = _schema(document, document.get("$defs", {}))
        assert isinstance(schema, Schema)  # a model's schema is an object, never a bare ref
        return schema


# Schema members whose values are schemas (one, a list, or a map of them); all others are
# plain JSON values.
_ONE = {
    "items",
    "contains",
    "additionalProperties",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
}
_LIST = {"allOf", "anyOf", "oneOf", "prefixItems"}
_MAP = {"properties", "patternProperties", "dependentSchemas"}
_FIELDS = Schema().field_aliases()


def _schema(node: Any, defs: dict[str, Any]) -> Schema | bool:
    """A JSON Schema document as Litestar's ``Schema``, with ``$ref``s to ``$defs`` inlined
    (the API's models are not recursive)."""
    if not isinstance(node, dict):
        return bool(node)  # true/false schemas
    if "$ref" in node:
        return _schema(defs[node["$ref"].rsplit("/", 1)[1]], defs)
    members: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs":
            continue
        if key in _ONE:
            value = _schema(value, defs)
        elif key in _LIST:
            value = [_schema(v, defs) for v in value]
        elif key in _MAP:
            value = {k: _schema(v, defs) for k, v in value.items()}
        members[_FIELDS.get(key, re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower())] = value
    return Schema(**members)


def _events(names: list[str] | None) -> OpenAPIMediaType:
    """Server-Sent Events, each described as schemathesis and OpenAPI 3.1 tools read a stream's
    schema: one event, its ``data`` a JSON text."""
    name = Schema(type=OpenAPIType.STRING, enum=names) if names else Schema(type=OpenAPIType.STRING)
    event = Schema(
        type=OpenAPIType.OBJECT,
        required=["data"],
        properties={
            "event": name,
            "data": Schema(type=OpenAPIType.STRING, content_media_type="application/json"),
            "id": Schema(type=OpenAPIType.STRING),
            "retry": Schema(type=OpenAPIType.INTEGER),
        },
    )
    return OpenAPIMediaType(schema=event)


def _ok(operation: Operation) -> OpenAPIResponse | None:
    ok = (operation.responses or {}).get("200")
    return ok if isinstance(ok, OpenAPIResponse) else None


@dataclass
class ChatEventStream(Operation):
    """``/v1/chat/stream``: the events ``chatbot.api.chat`` sends."""

    def __post_init__(self) -> None:
        if ok := _ok(self):
            names = ["token", "retract", "citations", "guardrails", "done", "error"]
            ok.content = {EVENT_STREAM: _events(names)}


@dataclass
class JsonOrEventStream(Operation):
    """An operation whose success answers JSON, or Server-Sent Events when asked to stream."""

    def __post_init__(self) -> None:
        if ok := _ok(self):
            ok.content = {**(ok.content or {}), EVENT_STREAM: _events(None)}
