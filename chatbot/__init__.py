"""Guarded FAQ chatbot: HTTP API, chat pipeline, CLI."""
