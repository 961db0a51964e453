"""The retrieval rail: document text that speaks to the assistant instead of the customer
(indirect prompt injection planted in an FAQ, a guide or a web page) is flagged at ingest and
dropped before the prompt.

FAQ text legitimately gives orders to *customers* ("ignore any e-mail that asks for your
PIN"); what marks an injection is an order aimed at an AI, a hidden channel (HTML comments,
encoded payloads) or a data-leaking link. The message patterns of :mod:`rails.injection` apply
too, on every de-obfuscated view of the text.
"""

from __future__ import annotations

import re

from rails.injection import PATTERNS
from rails.normalize import views

_AI = (
    r"(ai|a\.i\.|assistants?|chat ?bots?|bots?|language models?|llms?|models?|gpt|agents?|"
    r"virtual agents?|copilots?)"
)
# For rules that could also read as staff ("our agents must ..."), only unambiguous names.
_AI_STRICT = r"(ai|assistants?|chat ?bots?|language models?|llms?|gpt)"
_NOTE = (
    r"(note|notes|message|instructions?|instruction|important|attention|notice|reminder|override|"
    r"system override|nota|hinweis|instrução|instrucción|istruzione|opmerking|remarque|uwaga|"
    r"consigne|anweisung|notiz)"
)
_AI_WORDS = (
    r"(ai|ki|ia|a\.i\.|assistants?|assistente|asistente|assistent|chat ?bots?|bots?|"
    r"language models?|llms?|models?|modelos?|modelli|modèles?|gpt|virtual agents?|copilots?|"
    r"cynorthwyydd|ai-assistent|ki-modelle)"
)
_DOC_PATTERNS = {
    # "Note to AI models: ...", "Assistant, ignore ...", "If you are an AI reading this, ..."
    "addressed_to_ai": re.compile(
        rf"\b{_NOTE}\s+(to|for|para|per|für|pour|voor|dla|an|al|ao|à)\s+(the |any |all |el |il |"
        rf"la |o |a |de |die |den |das |le |l'|os |as )?{_AI_WORDS}\b|"
        rf"\b{_AI_STRICT}\s+{_NOTE}\b|\b(attention|dear|hey|hi)\s+{_AI_WORDS}\b|"
        rf"(^|[\n.!:;>])\s*(the )?({_AI_STRICT}|virtual agent|cynorthwyydd)\s*[,:]\s*\w+|"
        rf"\bif you are an? {_AI_WORDS}\b|\b{_AI_WORDS} (systems? )?(is |are )?(asked|"
        rf"summari[sz]ing|summari[sz]es|reading|reads|answering|answers|responds)\b|"
        rf"\b{_AI_STRICT}\b[^.\n]{{0,30}}\b(must|should|shall|are (now )?(required|instructed)|"
        rf"have to|need to)\b",
        re.IGNORECASE,
    ),
    # Orders about the reply itself: "when answering, ...", "at the end of your reply".
    "addressed_to_responder": re.compile(
        r"\b(before|when|while) (answering|responding|replying)\b|"
        r"\bwhen you (answer|respond|reply)\b\s*[,:]|"
        r"\b(at the end of|in|to|with) (your|each|every) (reply|replies|answer|answers|response|"
        r"responses)\b",
        re.IGNORECASE,
    ),
    # Orders about what to tell the reader, e.g. "tell customers to call 0800 ...".
    "order_about_customers": re.compile(
        r"\b(tell|instruct|advise|direct|inform|remind|ask|urge) (the |all |every |any )?"
        r"(customers?|users?|clients?|callers?|people|visitors|anyone|everyone)\b(?! (can|may|"
        r"who))|"
        r"\bwhen (customers?|users?|clients?|someone|anyone|people) asks?\b[^.\n]{0,60}\b(tell|ask|"
        r"direct|advise) (them|him|her)\b",
        re.IGNORECASE,
    ),
    "credential_request": re.compile(
        r"\b(ask|get|collect|request)\b[^.\n]{0,40}\b(their|his|her|the customer's|the user's|"
        r"full)\b[^.\n]{0,20}\b(pin|password|passcode|one-time (pass)?code|card number|cvv|"
        r"security code)\b|"
        r"\b(confirm|enter|send|share|submit|email|e-mail)\b[^.\n]{0,40}\b(pin|password|"
        r"passcode|one-time (pass)?code)\b[^.\n]{0,40}(https?://|\S+@\S+|whatsapp|by e-?mail)",
        re.IGNORECASE,
    ),
    "hidden_comment": re.compile(
        r"<!--(?:(?!-->).)*?\b(ai|assistant|chatbot|bot|model|llm|ignore|instructions?|prompt|"
        r"tell|say|reply|answer)\b(?:(?!-->).)*-->",
        re.IGNORECASE | re.DOTALL,
    ),
    "hidden_text": re.compile(
        r"\[(hidden|invisible|white text|system note)\]|display\s*:\s*none|"
        r"visibility\s*:\s*hidden|font-size\s*:\s*[01](px|pt)\b|color\s*:\s*(#fff(fff)?|white)\b",
        re.IGNORECASE,
    ),
    "decode_and_follow": re.compile(
        r"\b(decode|base64|rot13|hex|backwards|reversed|in reverse)\b[^.\n]{0,40}\b(follow|"
        r"execute|obey|run|apply|do)\b",
        re.IGNORECASE,
    ),
    # Links and images that carry data out: a query string or a template to fill in.
    "exfiltration_link": re.compile(
        r"!\[[^\]]*\]\([^)]*[?&{][^)]*\)|<\s*(script|iframe)\b|javascript:|\bon(error|load)\s*=|"
        r"https?://\S*[?&]\w+=(\{|\[|&|$|\s)|\{\{?\s*(conversation|history|user|customer|email|"
        r"name|account)",
        re.IGNORECASE,
    ),
}
# Role-play words ("jailbroken phones", "developer mode") and plain markdown images
# (screenshots) are ordinary in help pages, so only these message patterns apply to documents.
_MESSAGE_PATTERNS = {
    name: PATTERNS[name]
    for name in (
        "override",
        "new_instructions",
        "prompt_extraction",
        "template_markup",
        "multilingual_override",
    )
}


# The negation may head a list: "We will never:\n1. Ask you for your PIN".
_NEGATED = re.compile(r"\b(never|not|won't|don't|doesn't|n't)\b(?:[^.]|\d\.){0,40}$", re.IGNORECASE)


def _found(pattern: re.Pattern[str], text: str) -> bool:
    """A match that is not negated: "we will never ask for your PIN" is guidance."""
    return any(
        not _NEGATED.search(text[max(0, m.start() - 50) : m.start()])
        for m in pattern.finditer(text)
    )


def screen(text: str) -> str | None:
    """Why ``text`` must not reach the prompt (the name of the first check it fails), or None."""
    readings = views(text)
    for name, pattern in _DOC_PATTERNS.items():
        if any(_found(pattern, view) for view in readings):
            return name
    for name, pattern in _MESSAGE_PATTERNS.items():
        if any(pattern.search(view) for view in readings):
            return name
    return None
