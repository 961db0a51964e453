"""Follow-up questions into standalone retrieval queries, from the history alone.

"And for a credit card?" retrieves nothing useful by itself; joined to the previous question
it does. A rewrite by the model would cost a second generation call per turn, so the default
is this rule: a message that reads as a continuation (short, opens with a connective, or
leans on a pronoun) is searched together with the previous user message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_CONTINUATION = re.compile(
    r"^\s*(and|or|but|also|then|what about|how about|same for|what if)\b",
    re.IGNORECASE,
)
_ANAPHORA = re.compile(r"\b(it|its|that|this|those|these|they|them|one|ones)\b", re.IGNORECASE)
_SHORT_WORDS = 4


def is_follow_up(message: str) -> bool:
    words = re.findall(r"\w+", message)
    return (
        len(words) <= _SHORT_WORDS
        or bool(_CONTINUATION.match(message))
        or (len(words) <= 8 and bool(_ANAPHORA.search(message)))
    )


def standalone_query(message: str, previous_user_messages: Sequence[str]) -> str:
    """The text to search for ``message``, given the earlier user messages (oldest first)."""
    if not previous_user_messages or not is_follow_up(message):
        return message
    return f"{previous_user_messages[-1]} {message}"
