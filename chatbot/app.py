"""The Litestar application: wiring only (plugins, dependencies, lifespan); routes live in
``chatbot.api``, the turn in ``chatbot.pipeline``."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.problem_details import ProblemDetailsPlugin
from litestar.plugins.prometheus import PrometheusConfig
from litestar.plugins.pydantic import PydanticInitPlugin

from chatbot.api.admin import AdminController
from chatbot.api.body import ApiRequest
from chatbot.api.chat import ChatController
from chatbot.api.console import console_asset, console_page
from chatbot.api.health import HealthController, MetricsController
from chatbot.api.openai import OpenAIController
from chatbot.api.openapi import ApiSchemaPlugin
from chatbot.api.problems import Problems
from chatbot.api.security import client_identity
from chatbot.api.sessions import SessionController
from chatbot.api.support import SupportController
from chatbot.api.turns import TurnsController
from chatbot.api.web import demo_page, widget_script
from chatbot.errors import ConfigurationError
from chatbot.services import Services
from chatbot.settings import Settings, get_settings

log = logging.getLogger("chatbot")
_NOT_LIMITED = ["^/health", "^/metrics", "^/schema", "^/$", "^/widget"]


def _check_exposure(settings: Settings) -> None:
    if settings.api_keys:
        return
    if settings.environment != "development" or not settings.local_only:
        raise ConfigurationError(
            f"the chat API would be open to anyone on {settings.host}: set CHATBOT_API_KEYS "
            "(an API without keys is allowed only in development on 127.0.0.1)"
        )
    log.warning("no CHATBOT_API_KEYS: the chat API is open to local clients (development only)")


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    _check_exposure(settings)

    @contextlib.asynccontextmanager
    async def services_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with Services.open(settings) as services:
            app.state.services = services
            # The models, rails and index just loaded are millions of objects that live as
            # long as the process; every full collection would walk them again (a pause of
            # hundreds of ms under load). Frozen, collections walk only what turns create.
            gc.collect()
            gc.freeze()
            yield

    def provide(name: str) -> Provide:
        def get(state: State) -> Any:
            return getattr(state.services, name)

        return Provide(get, sync_to_thread=False)

    problems = Problems(production=settings.environment == "production")

    def get_settings_() -> Settings:
        return settings

    def get_problems() -> Problems:
        return problems

    admin = Router(
        path="/",
        route_handlers=[AdminController, TurnsController, SupportController],
        request_max_body_size=settings.max_file_bytes + 1_000_000,
    )
    return Litestar(
        route_handlers=[
            ChatController,
            OpenAIController,
            SessionController,
            admin,
            HealthController,
            MetricsController,
            demo_page,
            console_page,
            console_asset,
            widget_script,
        ],
        dependencies={
            "services": Provide(_services, sync_to_thread=False),
            "pipeline": provide("pipeline"),
            "sessions": provide("sessions"),
            "settings": Provide(get_settings_, sync_to_thread=False),
            "problems": Provide(get_problems, sync_to_thread=False),
        },
        lifespan=[services_lifespan],
        state=State({"settings": settings}),
        plugins=[
            ProblemDetailsPlugin(problems.config()),
            # Request bodies keep JSON's types: ``true`` is not the integer 1.
            PydanticInitPlugin(validate_strict=True),
            ApiSchemaPlugin(settings.max_message_chars),
        ],
        request_class=ApiRequest,
        middleware=[
            PrometheusConfig(app_name="chatbot", prefix="chatbot_http", group_path=True).middleware,
            RateLimitConfig(
                rate_limit=("minute", settings.rate_limit_per_minute),
                identifier_for_request=client_identity,
                exclude=_NOT_LIMITED,
            ).middleware,
        ],
        cors_config=(
            CORSConfig(
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "X-Session-Id"],
                expose_headers=["X-Session-Id"],
            )
            if settings.cors_origins
            else None
        ),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Guarded FAQ chatbot",
            version="1",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
    )


def _services(state: State) -> Services:
    services: Services = state.services
    return services
