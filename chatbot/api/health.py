"""Liveness, readiness (Triton model ready, session store reachable, an index loaded) and the
Prometheus metrics."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.plugins.prometheus import PrometheusController

from chatbot.api.openapi import problem_responses
from chatbot.services import Services


class HealthController(Controller):
    path = "/health"
    tags = ["health"]  # noqa: RUF012

    @get("/live", summary="The process is up", responses=problem_responses())
    async def live(self) -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        summary="Ready to answer: Triton, session store and index",
        responses=problem_responses(503),
    )
    async def ready(self, services: Services) -> dict[str, Any]:
        checks = await services.readiness()
        if not all(checks[name] for name in ("triton", "session_store", "index")):
            down = ", ".join(n for n in ("triton", "session_store", "index") if not checks[n])
            raise ProblemDetailsException(
                status_code=503,
                type_="urn:chatbot:problem:not-ready",
                title="Not ready",
                detail=f"not ready: {down}",
                extra={"checks": checks},
            )
        return {"ready": True, "checks": checks}


class MetricsController(PrometheusController):
    """Litestar's Prometheus route, documented as the text it answers."""

    @get(
        media_type="text/plain",
        summary="Prometheus metrics",
        tags=["health"],
        responses=problem_responses(),
    )
    async def get(self) -> Response[bytes]:
        response: Response[bytes] = await PrometheusController.get.fn(self)
        return response
