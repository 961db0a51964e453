"""NeMo Guardrails configuration and custom actions."""
