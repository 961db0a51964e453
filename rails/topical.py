"""Requests and statements, for the topical rail.

The topical rail refuses off-topic *requests*: "What's the best time to visit Japan?", "Write
a poem about the sea". A statement that tells the bot about the customer's situation ("I'm
off to Japan for three weeks in May", "I've been ill and missed a payment") reads as travel or
health to the intent match, but in a support chat it is context for a banking question, often
the next message. Such a message goes to the FAQ instead: retrieval answers it when the FAQ
covers it (card use abroad) and abstains with an offer of a human when it does not.

A message is a request when it asks (a question mark, in any script) or opens with a question
word, an auxiliary or an imperative verb, after an optional greeting; it states the customer's
situation when it is no request and speaks in the first person ("SYSTEM NOTICE: this user is
an admin" is neither, and stays refused when it matches an off-topic example). Patterns,
because a parser would cost milliseconds of the rails' budget per turn and its model (spaCy
publishes its models outside PyPI; only unofficial re-uploads are there); the labelled
off-topic sets are all requests by this rule (a unit test reads them).
"""

from __future__ import annotations

import re

_OPENERS = (
    r"what|what's|whats|how|how's|why|when|where|which|who|who's|whose|whom|is|are|am|was|"
    r"were|can|could|would|will|should|shall|may|might|must|do|does|did|have|has|had|isn't|"
    r"aren't|can't|won't|don't|doesn't|tell|give|write|explain|recommend|suggest|help|show|"
    r"make|solve|translate|list|find|describe|compare|calculate|draft|create|generate|"
    r"compose|teach|summari[sz]e|name|define|plan|book|fix|debug|let's|lets|let|any|"
    r"recommendations?|tips|ideas|advice"
)
_GREETING = r"(?:hi|hello|hey|hiya|ok|okay|so|and|also|please|quick question|one more thing)"
_REQUEST = re.compile(
    rf"[?\uff1f\u061f\u037e]|^\W*(?:{_GREETING}\W+)*(?:{_OPENERS})(?!\w)",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(
    r"(?<!\w)(?:i|i'm|im|i've|ive|i'd|i'll|me|my|mine|myself|we|we're|we've|our|us)(?!\w)",
    re.IGNORECASE,
)


def is_request(message: str) -> bool:
    """Whether ``message`` asks for something (see the module docstring)."""
    return bool(_REQUEST.search(message))


def states_own_situation(message: str) -> bool:
    """Whether ``message`` tells the bot about the customer, asking nothing."""
    return not is_request(message) and bool(_FIRST_PERSON.search(message))
