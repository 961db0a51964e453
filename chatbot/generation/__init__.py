"""Generation through Triton: the async streaming client and the NeMo Guardrails provider."""
