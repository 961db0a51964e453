"""Jailbreak and prompt-injection detection on user messages (the input rail) and on the
recent user turns read together (the conversation-level rail).

Two detectors look at every de-obfuscated view of the text (:mod:`rails.normalize`):

- **patterns**: instruction overrides, system-prompt extraction, role-play jailbreaks, fake
  chat-template markup and exfiltration markup, in English and the languages attackers use
  most. They are precise and cost microseconds.
- **classifier**: a logistic regression over the MiniLM sentence embedding (the one retrieval
  computes anyway, so the common case costs a cache hit) together with hashed character and
  word n-grams (which carry what the English-only MiniLM misses: other languages' keywords, the
  vocabulary of fraud), fitted by ``python -m rails.fit`` on ``rails/exemplars/messages.jsonl``;
  its threshold is chosen on the validation split.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from rails.normalize import views

CLASSIFIER_PATH = Path(__file__).resolve().parent / "exemplars" / "classifier.json"
LEXICAL_PATH = CLASSIFIER_PATH.with_name("lexical.npz")
# Hashing keeps no vocabulary (only the weights are stored) and is stable across releases.
_HASHING = {"n_features": 2**20, "alternate_sign": False, "norm": "l2"}
_CHARS = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), **_HASHING)
_WORDS = HashingVectorizer(analyzer="word", ngram_range=(1, 2), **_HASHING)
_BLOCK = 2**20
LEXICAL_FEATURES = 2 * _BLOCK


def lexical_features(texts: Sequence[str]) -> sparse.csr_matrix:
    """Hashed character 3-5-grams and word 1-2-grams of each text, each block l2-normalised."""
    return sparse.hstack([_CHARS.transform(texts), _WORDS.transform(texts)], format="csr")


def _lexical_logits(
    texts: Sequence[str], weights: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``lexical_features(texts) @ weights`` without building the stacked matrix (a third of
    the cost on one message)."""
    chars = _CHARS.transform(texts) @ weights[:_BLOCK]
    words = _WORDS.transform(texts) @ weights[_BLOCK:]
    logits: npt.NDArray[np.float64] = chars + words
    return logits


def _any(alternatives: str) -> str:
    """One alternation of the top-level ``|``-separated words; words in scripts that separate
    words with spaces (below U+0600: Latin, Greek, Cyrillic...) must stand alone, so "glem"
    (Danish: forget) does not fire inside "problem"."""
    words, depth, start = [], 0, 0
    for at, char in enumerate(alternatives):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            words.append(alternatives[start:at])
            start = at + 1
    words.append(alternatives[start:])
    parts = [
        rf"(?<!\w)(?:{word})(?!\w)" if all(ord(ch) < 0x600 for ch in word) else f"(?:{word})"
        for word in words
    ]
    return "(?:" + "|".join(parts) + ")"


# Instruction overrides, "an AI without rules", developer mode and system-prompt requests in
# the languages of the multilingual exemplars (both word orders: several are verb-final).
_OVERRIDE_VERBS = _any(
    r"ignora|ignore[rz]?|ignoriere?n?|ignorera|ignoruj|ignoră|ignoriši|ignoriraj|"
    r"olvida|olvídate|descarta|esque[cç]e|esqueça|desconsider[ae]|dimentica|"
    r"oublie[rz]?|vergiss|vergeet|negeer|glöm|glem|se bort fra|strunta i|unohda|"
    r"jätä huomiotta|zignoruj|zapomnij|zapomeň|zabudni|uită|felejtsd el|"
    r"hagyd figyelmen kívül|αγνόησε|ξέχασε|unut|yok say|görmezden gel|игнорируй|"
    r"забудь|ігноруй|забрави|игнорирай|заборави|игнориши|zaboravi|تجاهل|انس|"
    r"התעלם|שכח|فراموش کن|نادیده بگیر|بھول جاؤ|نظر انداز|भूल जाओ|भूल जाएं|नज़रअंदाज़|"
    r"अनदेखा|ভুলে যাও|উপেক্ষা|忽略|无视|無視|忘记|忘記|忘掉|作废|作廢|忘れて|무시|"
    r"잊어|bỏ qua|quên|ละเว้น|ลืม|เพิกเฉย|abaikan|lupakan|kalimutan|huwag pansinin|"
    r"puuza|sahau|zabud'?|bhool ja\w*|bhul ja\w*|forget"
)
_INSTRUCTION_NOUNS = _any(
    r"instrucciones|reglas|normas|indicaciones|instruções|regras|istruzioni|regole|"
    r"consignes|règles|instructions?|anweisungen|regeln|vorgaben|instructies|regels|"
    r"instruktioner|regler|instruksjoner|ohjee\w*|säännö\w*|instrukcj\w*|zasad\w*|"
    r"polece\w*|pokyn\w*|pravidl\w*|instrukc\w*|instrucțiuni|instructiuni|regulil\w*|"
    r"utasítás\w*|szabály\w*|οδηγί\w*|κανόν\w*|talimat\w*|kural\w*|инструкц\w*|"
    r"правил\w*|указани\w*|інструкці\w*|упутств\w*|upute|uputstva|pravila|تعليمات\w*|"
    r"التعليمات|قواعد|القواعد|הוראות|חוקים|دستورالعمل\S*|قوانین|ہدایات|اصول|निर्देश|"
    r"नियम|নির্দেশ|নিয়ম|指令|指示|规则|規則|设定|ルール|지시|규칙|지침|"
    r"hướng dẫn|quy tắc|คำสั่ง|กฎ|instruksi|aturan\w*|arahan|peraturan|tagubilin|"
    r"patakaran|maagizo|sheria|instruktsii|nirdesh|niyam"
)
_UNRESTRICTED = _any(
    r"sin (restricciones|filtros?|reglas|límites)|sem (restrições|filtros?|censura|"
    r"regras)|senza (restrizioni|filtri|regole)|sans (restrictions?|filtres?|limites|"
    r"règles)|ohne (einschränkungen|regeln|filter)|zonder (beperkingen|regels)|"
    r"utan begränsningar|uden (filtre|begrænsninger)|uten begrensninger|"
    r"ilman rajoituksia|bez (ograniczeń|cenzury|omezení|obmedzení|ograničenja|"
    r"ogranicheniy)|fără (restricții|filtre)|korlát\w* nélkül\w*|"
    r"χωρίς (κανέναν )?περιορισμ\w*|k\u0131s\u0131tlama olmadan|"
    r"k\u0131s\u0131tlamas\u0131z|без (ограничений|"
    r"запретов|правил|обмежень|ограничения|икаквих ограничења)|بلا (قواعد|قيود)|"
    r"بدون (قيود|هیچ محدودیت\S*)|בלי (הגבלות|חוקים)|بغیر کسی پابندی|کوئی اصول نہیں|"
    r"बिना रोक-टोक|कोई नियम (लागू )?नहीं|নিয়মহীন|没有(任何)?限制|沒有(任何)?限制|"
    r"无限制|無限制|不受限制|制限のない|制限なし|제한 없는|không (có )?giới hạn|"
    r"không bị ràng buộc|ไม่มีกฎ|ไม่มีข้อจำกัด|tanpa (aturan|batasan|sekatan|"
    r"peraturan)|walang (limitasyon|rules)|bila vikwazo|isiyo na sheria|no rules|"
    r"no limits|koi niyam nahi|bina kisi restriction|sin censura|senza censura|"
    r"sans censure|sem censura"
)
_DEV_MODE = _any(
    r"modo (desarrollador|desenvolvedor|sviluppatore|programador)|mode (développeur|"
    r"dev)|entwicklermodus|ontwikkelaarsmodus|utvecklarläge|udviklertilstand|"
    r"utviklermodus|kehittäjätila|tryb (dewelopera|programisty)|vývojářský režim|"
    r"režim vývojára|modul dezvoltator|fejlesztői mód|λειτουργία προγραμματιστή|"
    r"geliştirici modu|режим разработчика|режим розробника|режим за разработчици|"
    r"режим програмера|وضع المطور|מצב מפתח|حالت توسعه|ڈویلپر موڈ|डेवलपर मोड|"
    r"ডেভেলপার মোড|开发者模式|開發者模式|開発者モード|개발자 모드|"
    r"chế độ nhà phát triển|โหมดนักพัฒนา|mode pengembang"
)
_SYSTEM_PROMPT = _any(
    r"prompt (de|del|do|di) sistem[ae]|system-?prompt|systemprompt|invite système|"
    r"instructions? (système|cachées|internes)|instrucciones (del sistema|internas|"
    r"ocultas)|instruções (do sistema|internas|ocultas)|istruzioni (di sistema|"
    r"interne|nascoste)|systemanweisungen|interne anweisungen|instrukcje systemowe|"
    r"systémové instrukce|interní instrukce|systémové pokyny|instrucțiunile de sistem|"
    r"rendszerutasítás\w*|οδηγίες συστήματος|sistem (istemi|talimat\w*)|"
    r"системн\w+ (промпт|инструкц\w*|подсказк\w*)|системн\w+ (повідомлен\w*|"
    r"інструкц\w*)|موجه النظام|تعليمات النظام|הנחיות המערכת|پرامپت سیستم|سسٹم پرامپٹ|"
    r"सिस्टम प्रॉम्प्ट|সিস্টেম প্রম্পট|系统提示|系統提示|系统指令|システムプロンプト|"
    r"隠された指示|시스템 프롬프트|lời nhắc hệ thống|พรอมต์ระบบ|prompt sistem|"
    r"instruksi (sistem|rahasia)|system message|mensaje del sistema|message système"
)
_AI = _any(
    r"ia|ai|ki|mi|ии|ші|bot|chatbot|robot|ذكاء اصطناعي|בינה מלאכותית|هوش مصنوعی|एआई|"
    r"এআই|人工智能|人工智慧|챗봇|ボット|asistent\w*|assistant\w*|assistente|модель|"
    r"βοηθ\w*|sahayak"
)
_ELSEWHERE = ".{0,40}?"
MULTILINGUAL = (
    f"{_OVERRIDE_VERBS}{_ELSEWHERE}{_INSTRUCTION_NOUNS}|{_INSTRUCTION_NOUNS}{_ELSEWHERE}"
    f"{_OVERRIDE_VERBS}|{_AI}{_ELSEWHERE}{_UNRESTRICTED}|{_UNRESTRICTED}{_ELSEWHERE}{_AI}|"
    f"{_DEV_MODE}|{_SYSTEM_PROMPT}"
)


_W = r"[^.?!\n]{0,40}?"  # a short stretch of words within one sentence
_PATTERNS: dict[str, str] = {
    "override": (
        r"\b(ignore|disregard|forget|override|bypass|overrule|abandon|drop|skip)\b"
        + _W
        + r"\b(previous|prior|above|earlier|preceding|all|any|your|these|those|system|initial|"
        r"original|safety|existing|current)\b"
        + _W
        + r"\b(instructions?|rules|prompts?|guidelines|directives?|restrictions|programming|"
        r"guardrails?|policies|constraints|filters|training|commands)\b"
    ),
    "new_instructions": (
        r"\b(new|updated|revised|real|true|actual)\s+(system\s+)?(instructions|rules|directives|"
        r"prompt|orders)\s*(:|are\b|follow)"
    ),
    "role_switch": (
        r"\byou are (now(?! (my|our|the|a|an) )|no longer|free|not bound|released)\b|"
        r"\bfrom now on,? you\b|\b(stay|remain|break) (in|out of) character\b|\bdo anything now\b|"
        r"\bdeveloper mode (enabled|activated|on)\b|\b(enable|enter|activate) developer mode\b|"
        r"\bjail ?br(eak|oken)\b(?! (phone|device|iphone|android|ipad|mobile))|"
        r"\byou are (now )?(unrestricted|unfiltered|jailbroken|free of)\b|"
        r"\b(rules|restrictions|guidelines|policies|filters)\b[^.]{0,25}\bno longer apply\b|"
        r"\b(turn|switch|shut) off (your|the|all) (safety|security|content)? ?(checks|filters|"
        r"rules)\b|"
        r"\b(safety|security) (checks|filters|rules) (are )?(now )?(off|disabled)\b|"
        r"\b(unfiltered|uncensored|unrestricted|unaligned) (ai|mode|model|"
        r"assistant|version|bot)\b|"
        # "no restrictions on withdrawals" is a banking question, not a role switch
        r"\b(without|no) (any )?((restrictions|filters|limitations)(?! (on|for|to|of|in|at|when|"
        r"if)\b)|censorship|guardrails|ethical guidelines)\b|\bDAN\b(?=.{0,80}\b(mode|prompt|act|"
        r"answer|respond|persona|character)\b)"
    ),
    "prompt_extraction": (
        r"\b(reveal|print|show|display|repeat|output|leak|dump|recite|spell out|write out|"
        r"tell me|give me|share|what (is|are|were))\b"
        + _W
        + r"\b(system|initial|hidden|original|secret|internal|developer|pre-?|meta ?)[ -]?"
        r"(prompt|instructions|message|rules|directives|configuration)\b|"
        r"\b(text|words|everything|instructions) (above|before) (this|my)\b|\bcanary\b"
    ),
    "template_markup": (
        r"<\|(im_start|im_end|system|endoftext|assistant)\|>|\[/?INST\]|<<\s*/?SYS\s*>>|"
        r"</?\s*(system|instructions)\s*>|(^|\n)\s*#*\s*\[?(system|developer)\]?\s*(:|\])"
    ),
    "exfiltration_markup": (
        r"!\[[^\]]*\]\(\s*https?://|<\s*(img|script|iframe|svg)\b|javascript:|\bon(error|load)\s*=|"
        r"\b(image|img|picture|pixel)\b[^.]{0,40}\b(url|link|src)\b"
    ),
    # Pieces to be glued back together: a='ign', b='ore'; "adm", "in", "pass".
    "payload_splitting": (
        r"([\"'][^\"']{1,12}[\"']\s*[,+]\s*){2,}[\"']|\b[a-z]\d?\s*=\s*[\"'][^\"']*[\"']\s*[,;]?\s*"
        r"\b[a-z]\d?\s*=\s*[\"']|\b(concatenate|assemble|put together|glue)\b[^.]{0,30}\b(it|them|"
        r"these|the (parts|pieces|strings|words|fragments))\b"
    ),
    # Help with fraud against the bank or its customers.
    "fraud": (
        r"\b(access|get into|log ?in(?:to)?|take over|empty|drain|withdraw from|change the "
        r"(registered )?(mobile|phone|number|email|address) on|get the pin (of|for))\b[^.]{0,40}"
        r"\b(someone else's|another person's|other people's|(my )?(flatmate|roommate|neighbour|"
        r"boss|ex|husband|wife|partner|grandmother|grandfather|grandma|grandad|uncle|aunt|dad|mum|"
        r"mother|father|brother|sister|friend|colleague)'s)\b|"
        r"\b(in|under) (someone else's|another person's|a fake|a false) (name|identity)\b|"
        r"\b(a |the )?cards? (i|we) found\b|\bstolen (credit |debit )?cards?\b[^.]{0,30}\b(use|"
        r"online|buy|shop|cash)\b|\bscam (payments|money)\b|\bwithout telling (the bank|them|"
        r"anyone)\b|\b(list|dump|database) of (customer|client)s?'? ?(emails|details|numbers|"
        r"addresses|data)\b|\b(customer|person|holder|owner) who (owns|holds|has) (account|card)\b|"
        r"\bchargeback\b[^.]{0,40}\bactually (received|got)\b|"
        r"\bwithout (him|her|them|the owner|the customer|anyone) (knowing|noticing|finding out)\b|"
        r"\b(edit|alter|fake|forge|doctor|photoshop)\b[^.]{0,30}\b(statements?|payslips?|bank "
        r"letters?|passports?|id documents?)\b|\bbefore (your|the) fraud (team|department|"
        r"checks?)\b|"
        r"\b(avoid|bypass|evade|get around|trick|beat|skip)\b[^.]{0,30}\b(fraud (checks?|team|"
        r"detection|alerts?)|2fa|two-factor|verification|security checks?|one-time codes?|otp|"
        r"kyc)\b|"
        r"\b(stolen|someone(?:'s| else's)) (phone|card|details|credentials|identity)\b[^.]{0,40}"
        r"\b(log ?in|use|access|get into|pay|buy)\b|\b(list|dump|batch|bunch) of (card numbers|"
        r"cards|accounts|logins|credentials)\b|\blaunder|\bmoney mules?\b|\bmule accounts?\b|"
        r"\b(another|other|someone else's|a different) (customer|person|client|account holder)('s)?"
        r"\b[^.]{0,30}\b(statement|balance|address|details|data|number|account)|\b(holder|"
        r"owner) of "
        r"(account|card)\b|\b(linked to|belonging to|registered to) (account|card) (number )?\d"
    ),
    "multilingual_override": (
        r"\bignore[rz]?\b.{0,30}\b(instructions|consignes|règles)\b|"
        r"\bignorier\w*\b.{0,30}\b(anweisungen|regeln|instruktionen|vorgaben)\b|"
        r"\bvergiss\b.{0,30}\b(anweisungen|regeln|vorgaben)\b|"
        r"\bignor[ae]\b.{0,30}\b(instrucciones|reglas|istruzioni|regole|instruções|regras)\b|"
        r"\bolvida\b.{0,30}\b(instrucciones|reglas)\b|\bdimentica\b.{0,30}\b(istruzioni|regole)\b|"
        r"\besqueça\b.{0,30}\b(instruções|regras)\b|"
        r"\bnegeer\b.{0,30}\b(instructies|regels)\b|\bvergeet\b.{0,30}\b(instructies|regels)\b|"
        r"\bzignoruj\b.{0,20}\b(wszystkie|poprzednie|instrukcj|poleceni|zasad)|"
        r"\bzapomnij\b.{0,30}\b(instrukcj|zasad|poleceni)|"
        r"\b(talimat\w*|kural\w*)\b.{0,30}\b(yok say|görmezden gel|unut)|"
        r"игнорир\w*|забудь\w*.{0,30}(инструкц|правил)|(системн\w+ (промпт|инструкц))|"
        r"系统提示|系統提示|指示を無視|システムプロンプト|"
        r"تعليماتك|موجه النظام|التعليمات المخفية|시스템 프롬프트|"
        r"\b(sei|eres|bist|es|jesteś|é|bent) (?-i:DAN)\b|non hai restrizioni|"
        r"no tienes restricciones|"
        r"keine einschränkungen|aucune restriction|sem restrições|geen beperkingen|bez ograniczeń|"
        r"sans règles|keine regeln|sin reglas|senza regole|sem regras|zonder regels|bez zasad|"
        r"kurals\u0131z|без правил|没有规则|ルールのない|規則のない|규칙이 없는|"
        r"instrucciones ocultas|"
        r"versteckten anweisungen|instructions cachées|istruzioni nascoste|instruções ocultas|"
        r"隐藏指令|隐藏的指令|忘记你的规则|非表示の指示|숨겨진 지시"
    ),
}
_PATTERNS["multilingual_override"] += "|" + MULTILINGUAL
PATTERNS = {name: re.compile(p, re.IGNORECASE | re.DOTALL) for name, p in _PATTERNS.items()}
# A name like "Dan" must not count: the DAN alternative is meant in capitals only.
PATTERNS["role_switch"] = re.compile(
    _PATTERNS["role_switch"].replace(r"\bDAN\b", r"\b(?-i:DAN)\b"), re.IGNORECASE | re.DOTALL
)


# Chosen on the validation conversations: above it, no genuine conversation was refused.
CONVERSATION_THRESHOLD = 0.95
_TURN_BREAK = re.compile(r"[.?!\n'\"`]+")


class TextEncoder(Protocol):
    """What the classifier needs from :class:`ingest.embeddings.Embedder`."""

    def encode_query(self, text: str) -> npt.NDArray[np.float32]: ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True)
class LinearClassifier:
    """Logistic regression weights over a normalised sentence embedding and, when
    ``lexical`` is set, the hashed n-grams of :func:`lexical_features`."""

    coef: npt.NDArray[np.float32]
    intercept: float
    threshold: float
    meta: dict[str, Any]
    lexical: npt.NDArray[np.float64] | None = None

    @classmethod
    def load(
        cls, path: Path = CLASSIFIER_PATH, lexical_path: Path = LEXICAL_PATH
    ) -> LinearClassifier:
        data = json.loads(path.read_text(encoding="utf-8"))
        # The threshold was chosen with the n-gram weights: without them it means nothing.
        if not lexical_path.is_file():
            raise FileNotFoundError(
                f"{lexical_path} is missing; it belongs with {path.name} (python -m rails.fit)"
            )
        with np.load(lexical_path) as stored:
            lexical = np.zeros(LEXICAL_FEATURES, dtype=np.float64)
            lexical[stored["index"]] = stored["weight"]
        return cls(
            coef=np.asarray(data["coef"], dtype=np.float32),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            meta=dict(data.get("meta", {})),
            lexical=lexical,
        )

    def save(self, path: Path = CLASSIFIER_PATH, lexical_path: Path = LEXICAL_PATH) -> None:
        data = {
            "threshold": self.threshold,
            "intercept": self.intercept,
            "meta": self.meta,
            "coef": [round(float(x), 6) for x in self.coef],
        }
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        if self.lexical is not None:
            # Only the n-grams seen in training have weights; the rest of the space is zero.
            index = np.flatnonzero(self.lexical).astype(np.int32)
            weight = self.lexical[index].astype(np.float32)
            np.savez_compressed(lexical_path, index=index, weight=weight)

    def probability(
        self, vectors: npt.NDArray[np.float32], texts: Sequence[str] | None = None
    ) -> npt.NDArray[np.float64]:
        """``texts``: what ``vectors`` embed, for the n-gram weights (ignored without them)."""
        logits = vectors.astype(np.float64) @ self.coef.astype(np.float64) + self.intercept
        if self.lexical is not None and texts is not None:
            logits += _lexical_logits(texts, self.lexical)
        probs: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-logits))
        return probs


@dataclass(frozen=True)
class Finding:
    rail: str
    """``injection_pattern`` or ``injection_classifier``."""
    reason: str
    """The pattern's name, or the classifier's probability."""
    score: float


def match_patterns(texts: Sequence[str]) -> Finding | None:
    for text in texts:
        for name, pattern in PATTERNS.items():
            if pattern.search(text):
                return Finding("injection_pattern", name, 1.0)
    return None


class InjectionDetector:
    def __init__(self, encoder: TextEncoder, classifier: LinearClassifier | None = None) -> None:
        self.encoder = encoder
        self.classifier = classifier or LinearClassifier.load()

    def score(self, texts: Sequence[str]) -> float:
        """The classifier's highest attack probability over ``texts``; the first is encoded as
        a query (cached: retrieval encodes the same message)."""
        vectors = [self.encoder.encode_query(texts[0])[None, :]]
        if len(texts) > 1:
            vectors.append(self.encoder.encode(list(texts[1:])))
        return float(self.classifier.probability(np.vstack(vectors), texts).max())

    def check(self, text: str) -> Finding | None:
        readings = views(text)
        found = match_patterns(readings)
        if found:
            return found
        score = self.score(readings)
        if score >= self.classifier.threshold:
            return Finding("injection_classifier", f"p={score:.2f}", score)
        return None

    def check_conversation(self, earlier: Sequence[str], message: str) -> Finding | None:
        """The recent user turns read as one text, so an attack split across messages is seen
        whole; None when there is no earlier turn to read with. The classifier needs a far
        higher score here (``CONVERSATION_THRESHOLD``): read together, a customer's ordinary
        turns drift towards its attack side."""
        if not earlier:
            return None
        # One run of words: a payload split over messages must match as if sent at once.
        joined = _TURN_BREAK.sub(" ", " ".join([*earlier, message]))
        readings = views(joined)
        found = match_patterns(readings)
        if found:
            return Finding("conversation_injection_pattern", found.reason, found.score)
        score = self.score(readings)
        if score >= CONVERSATION_THRESHOLD:
            return Finding("conversation_injection_classifier", f"p={score:.2f}", score)
        return None
