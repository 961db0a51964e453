"""Everything of the chatbot that touches NeMo Guardrails' internals, fenced in one package.

- :mod:`.switch`: :func:`install` / :func:`uninstall`, the public switch between the speed-ups
  and NeMo as it ships (``CHATBOT_NEMO_RUNTIME``); the app's lifespan holds :func:`serving`;
- :mod:`.runtime`: the Colang 1.0 runtime speed-ups (``docs/nemo-runtime.md``);
- :mod:`.embeddings`: the process's embedding model as NeMo's embedding engine and search;
- :mod:`.flows`: the flows a profile can run;
- :mod:`.driver`: one rails call, on the runtime directly or through ``generate_async``;
- :mod:`.provider`: the Triton model as NeMo's main LLM (the production self-checks).

A NeMo upgrade is ported here alone; with ``CHATBOT_NEMO_RUNTIME=stock`` the rails run on
NeMo's stock path while it is.
"""

from __future__ import annotations

from nemoguardrails import LLMRails, RailsConfig

from chatbot.nemo import provider
from chatbot.nemo.driver import Call, call
from chatbot.nemo.embeddings import ENGINE, SharedIndex, register_embedder
from chatbot.nemo.switch import ALL, Speedup, active, attach, install, serving, uninstall

__all__ = [
    "ALL",
    "Call",
    "Speedup",
    "active",
    "attach",
    "call",
    "install",
    "new_rails",
    "register_embedder",
    "serving",
    "uninstall",
]


def new_rails(config: RailsConfig) -> LLMRails:
    """An ``LLMRails`` for ``config`` with the chatbot's providers registered: the embedding
    engine ``chatbot`` (register its model with :func:`register_embedder` first) and the main
    model ``triton_chatbot``. Hand it to :func:`attach` once its actions are registered."""
    provider.register()
    rails = LLMRails(config)
    rails.register_embedding_search_provider(ENGINE, SharedIndex)
    return rails
