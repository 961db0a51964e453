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
  its threshold is chosen on the validation split. Below it, a message scored at least the
  ``caution`` threshold is not refused but is answered only from the FAQ's own text: the
  small default model is not asked to write for a message that looks this much like an attack
  (:attr:`Finding.block` is False).
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

from rails.alternation import any_word, at_word_start
from rails.fraud import EXEMPT as FRAUD_EXEMPT
from rails.fraud import PATTERNS as FRAUD
from rails.hashing import HashedNgrams
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


_CHAR_NGRAMS = HashedNgrams(_CHARS)
_WORD_NGRAMS = HashedNgrams(_WORDS)


def _lexical_logits(
    texts: Sequence[str], weights: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``lexical_features(texts) @ weights``, text by text (:mod:`rails.hashing`)."""
    chars, words = weights[:_BLOCK], weights[_BLOCK:]
    return np.array([_CHAR_NGRAMS.dot(t, chars) + _WORD_NGRAMS.dot(t, words) for t in texts])


_LISTS: list[str] = []


def _words(alternatives: str) -> str:
    """:func:`any_word`, keeping the list for the lookahead in front of :data:`MULTILINGUAL`."""
    _LISTS.append(alternatives)
    return any_word(alternatives)


# Instruction overrides, "an AI without rules", developer mode and system-prompt requests in
# the languages of the multilingual exemplars (both word orders: several are verb-final).
_OVERRIDE_VERBS = _words(
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
_INSTRUCTION_NOUNS = _words(
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
_UNRESTRICTED = _words(
    r"sin (restricciones|filtros?|reglas|límites)|sem (restrições|filtros?|censura|"
    r"regras)|senza (restrizioni|filtri|regole)|sans (restrictions?|filtres?|limites|"
    r"règles)|ohne (einschränkungen|regeln|filter)|zonder (beperkingen|regels)|"
    r"utan begränsningar|uden (filtre|begrænsninger)|uten begrensninger|"
    r"ilman rajoituksia|rajoittamaton|bez (ograniczeń|cenzury|omezení|obmedzení|ograničenja|"
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
_DEV_MODE = _words(
    r"modo (desarrollador|desenvolvedor|sviluppatore|programador)|mode (développeur|"
    r"dev)|entwicklermodus|ontwikkelaarsmodus|utvecklarläge|udviklertilstand|"
    r"utviklermodus|kehittäjätila\w*|tryb (dewelopera|programisty)|vývojářský režim|"
    r"režim vývojára|modul dezvoltator|fejlesztői mód|λειτουργία προγραμματιστή|"
    r"geliştirici modu|режим разработчика|режим розробника|режим за разработчици|"
    r"режим програмера|وضع المطور|מצב מפתח|حالت توسعه|ڈویلپر موڈ|डेवलपर मोड|"
    r"ডেভেলপার মোড|开发者模式|開發者模式|開発者モード|개발자 모드|"
    r"chế độ nhà phát triển|โหมดนักพัฒนา|mode pengembang"
)
_SYSTEM_PROMPT = _words(
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
    r"instruksi (sistem|rahasia)|mensaje del sistema|message système|"
    # Not the app's own "system message" a customer asks about.
    r"system message(?! (in|on) (the|my) (app|screen|phone|online banking|website))"
)
# "AI" in capitals only where the letters are also a common word ("mi" Spanish: my; "ai"
# Italian: to the; "ki" Hinglish: of).
_AI = _words(
    r"ia|(?-i:AI|KI|MI)|tekoäly\w*|model|modelo|modello|modell|modèle|ии|ші|bot|chatbot|"
    r"robot|ذكاء اصطناعي|בינה מלאכותית|هوش مصنوعی|एआई|"
    r"এআই|人工智能|人工智慧|챗봇|ボット|asistent\w*|assistant\w*|assistente|модель|"
    r"βοηθ\w*|sahayak"
)
# System-prompt extraction in other languages: "your hidden rules", "the text above this
# conversation", "your instructions word for word". Hidden / concealed (also "hidden in your
# instructions": a few words may come between)...
_HIDDEN = _words(
    r"ocult[oa]s?|nascost[oeai]|cach[ée]e?s?|versteckt\w*|verborgen\w*|dold[ae]?|skjult\w*|"
    r"piilo\w*|ukryt\w*|skryt\w*|ascuns\w*|rejtett\w*|κρυφ\w*|κρυμμέν\w*|скрыт\w*|"
    r"прихован\w*|скрит\w*|скривен\w*|skriven\w*|المخفية|مخفية|הנסתרות|נסתרות|پنهان\S*|"
    r"مخفی\S*|پوشیدہ|छिपे|छुपे|छिपी|লুকানো|隐藏|隱藏|隠された|隠し|숨겨진|숨은|bị ẩn|ẩn giấu|"
    r"ที่ซ่อน\S*|tersembunyi|nakatago|zilizofichwa|iliyofichwa|chhupe|chupe"
)
# ...secret / internal / confidential only right next to the noun: a PIN is "número secreto",
# "비밀번호", "รหัสลับ".
_SECRET = _words(
    r"secret[oa]s?|secret(e|s|es)?|secrètes?|intern[oa]s|interne|confidencia(l|les|is)|"
    r"segret[oeai]|riservat[oeai]|confidentiel(le)?s?|geheim\w*|interne[nr]?|vertraulich\w*|"
    r"vertrouwelijk\w*|hemlig\w*|hemmelig\w*|fortrolig\w*|salai\w*|sisäi\w*|tajn\w*|"
    r"poufn\w*|wewnętrzn\w*|vnitřní\w*|vnútorn\w*|secrete|titkos\w*|belső|bizalmas|"
    r"μυστικ\w*|εσωτερικ\w*|gizli|секретн\w*|тайн\w*|внутренн\w*|таємн\w*|внутрішн\w*|"
    r"вътрешн\w*|тајн\w*|السرية|الداخلية|سرية|הסודיות|הפנימיות|סודיות|محرمانه|خفیہ|गुप्त|"
    r"গোপন|秘密|机密|機密|非公開|비밀(?!번호)|bí mật|(?<!รหัส)ลับ|rahasia\w*|rahsia\w*|"
    r"lihim|sikreto|za siri|gupt"
)
# What the bot was told: instructions, rules, prompt, guidelines.
_TOLD_MORE = _words(
    r"prompt\w*|directrices|pautas|direttive|richtlinien|richtlijnen|riktlinjer|"
    r"retningslinjer|wytyczn\w*|směrnic\w*|smernic\w*|irányelv\w*|yönerge\w*|директив\w*|"
    r"настанов\w*|smjernic\w*|uput\w*|упут\w*|ohjee\w*|промпт\w*|إرشادات|הנחיות|הנחיית|"
    r"دستورات\S*|हिदायत\w*|提示词|提示詞|プロンプト|프롬프트|พรอมต์|gesaan|maelekezo|maagizo|"
    r"panuto|hidayat"
)
_TOLD = f"(?:{_INSTRUCTION_NOUNS}|{_TOLD_MORE})"
# "System prompt" and "system message" in the forms _SYSTEM_PROMPT lacks.
_SYSTEM_MESSAGE = _words(
    r"системн\w+ (си |свой |твой |ваш )?(промпт\w*|инструкц\w*|подсказк\w*|съобщени\w*|"
    r"сообщени\w*)|rendszerüzenet\w*|rendszerprompt\w*|gesaan sistem|"
    r"(maelekezo|maagizo|ujumbe) (yako |wako )?(ya |wa )?mfumo|μήνυμα συστήματος|"
    r"sistem mesaj\w*|wiadomoś\w* systemow\w*|systemow\w* (prompt\w*|polecen\w*)|"
    r"systémov\w* (zpráv\w*|prompt\w*|správ\w*|inštrukci\w*|instrukc\w*)|"
    r"(promptul|mesajul) de sistem|sistemsk\w* (prompt\w*|upit\w*|uput\w*|poruk\w*)|"
    r"системск\w* (промпт\w*|упутств\w*|порук\w*)|systeemprompt\w*|systeeminstructie\w*|"
    r"systeembericht\w*|systemmeddelande\w*|systeminstruktion\w*|systemmeddelelse\w*|"
    r"systemmelding\w*|systeminstruks\w*|järjestelmäkehote\w*|järjestelmäviesti\w*|"
    r"järjestelmäohje\w*|הנחיית המערכת|הודעת המערכת|رسالة النظام|پیام سیستم\S*|سسٹم میسج|"
    r"सिस्टम (संदेश|मैसेज|निर्देश)|系统消息|系統訊息|系统提示词|システムメッセージ|시스템 메시지|"
    r"tin nhắn hệ thống|ข้อความระบบ|pesan sistem|mesej sistem|arahan sistem|"
    r"mensagem do sistema|messaggio di sistema"
)
# "Above / before this conversation", "at its start", "before my first message".
_PRECEDING = _words(
    r"(encima|antes|arriba) de (esta|nuestra|la) (conversación|charla|chat)|"
    r"(al )?(principio|inicio|comienzo) de (esta |nuestra |la )?(conversación|charla|chat)|"
    r"(por )?(cima|antes) (desta|da nossa|dessa) (conversa|mensagem)|"
    r"(no )?(início|começo) da conversa|(sopra|prima di) (questa|la nostra) (conversazione|chat)|"
    r"(all')?inizio della (conversazione|chat)|(au-dessus|avant) (de )?(cette|notre) "
    r"(conversation|discussion)|(avant|au-dessus de) (ce|mon premier) message|"
    r"(au )?début de (la|cette|notre) (conversation|discussion)|"
    r"(über|vor) (diesem|unserem) (gespräch|chat|verlauf)|(vor|über) meiner ersten nachricht|"
    r"(am )?anfang (des|dieses|unseres) (gesprächs|chats)|(boven|vóór|voor) dit gesprek|"
    r"begin van (het|dit) gesprek|ovanför (mitt första meddelande|den här konversationen|"
    r"samtalet)|före (mitt första meddelande|den här konversationen)|(i )?början av "
    r"(samtalet|konversationen)|over (denne|denne her) (samtalen|samtale|chatten)|(før|inden) "
    r"(denne samtalen|denne samtale|min første melding|min første besked)|starten av samtalen|"
    r"ennen (tätä keskustelua|ensimmäistä viestiäni)|keskustelun (alussa|yläpuolella)|"
    r"(nad|przed) (tą|tę|naszą) rozmow\w*|(z )?początku rozmowy|"
    r"(nad|před|pred) (touto|naší|našou) (konverzac\w*|konverzác\w*|konverzací)|"
    r"na začátku (konverzace|rozhovoru)|na začiatku (konverzácie|rozhovoru)|"
    r"(deasupra|înainte de) (acestei|această) conversați\w*|începutul conversației|"
    r"a beszélgetés (elején|előtt|felett)|az első üzenetem előtt|"
    r"(πάνω από|πριν από) (αυτή τη|τη) συνομιλία|στην αρχή της συνομιλίας|"
    r"bu (konuşman\u0131n|sohbetin) (üstünde|üzerinde|öncesinde|baş\u0131nda)|"
    r"(над|перед|до) (этим|этой|нашим|нашей|цим|цією|тази|този) (разговором|беседой|"
    r"перепиской|чатом|розмовою|разговор|чат)|перед (началом|початком) (чата|"
    r"разговора|розмови|чату)|в начале (чата|разговора|беседы)|на початку (розмови|чату)|"
    r"(изнад|пре) (овог|овај) (разговора|чета)|(iznad|prije|pre) (ovog|ovoga) (razgovora|"
    r"chata)|na početku razgovora|"
    r"فوق هذه المحادثة|قبل هذه المحادثة|في بداية المحادثة|מעל השיחה|לפני השיחה|"
    r"בתחילת השיחה|بالای این (گفتگو|مکالمه)|قبل از این (گفتگو|مکالمه)|ابتدای (گفتگو|مکالمه)|"
    r"(گفتگو|بات چیت) سے (اوپر|پہلے)|(گفتگو|بات چیت) کے شروع میں|شروع میں (تمہیں|آپ کو)|"
    r"बातचीत से (ऊपर|पहले)|बातचीत (की )?शुरुआत|কথোপকথনের (উপরে|আগে|শুরুতে)|"
    r"(对话|對話)(之前|以前|开始|開始|上方)|この会話の(前|上|最初|冒頭)|会話の(前|冒頭|最初)|"
    r"이 대화 (위|앞|전|이전|시작)|대화 (시작|이전)|(phía )?trên cuộc (trò chuyện|hội thoại) này|"
    r"trước cuộc (trò chuyện|hội thoại)|đầu cuộc (trò chuyện|hội thoại)|ก่อนบทสนทนา|"
    r"เหนือบทสนทนา|ตอนต้นของบทสนทนา|di atas (percakapan|perbualan) ini|"
    r"sebelum (percakapan|perbualan) ini|awal (percakapan|perbualan)|sa itaas ng usapan|"
    r"bago ang usapan|juu ya mazungumzo haya|kabla ya mazungumzo haya|mwanzo wa mazungumzo|"
    r"is (baatcheet|chat) se (upar|pehle)|chat ke shuru mein"
)
# "Word for word", "verbatim" (not words that also mean "as it is": "tal cual", "そのまま").
_VERBATIM = _words(
    r"palabra por palabra|al pie de la letra|palavra por palavra|parola per parola|"
    r"alla lettera|testualmente|mot (à|pour) mot|textuellement|wort für wort|wörtlich|"
    r"woord voor woord|letterlijk|ord för ord|ordagrant|ord for ord|ordrett|sanasta sanaan|"
    r"sanatarkasti|słowo w słowo|dosłownie|slovo od slova|slovo po slove|cuvânt cu cuvânt|"
    r"szó szerint|szóról szóra|λέξη προς λέξη|αυτολεξεί|kelimesi kelimesine|слово в слово|"
    r"дословно|дослівно|слово по слово|дума по дума|реч по реч|riječ po riječ|reč po reč|"
    r"od reči do reči|حرفي\S*|كلمة بكلمة|מילה במילה|کلمه به کلمه|لفظ بہ لفظ|शब्दशः|"
    r"শব্দে শব্দে|一字不差|一字一句|逐字|原封不动|原封不動|한 글자도|토씨 하나|từng chữ|"
    r"nguyên văn|คำต่อคำ|kata demi kata|perkataan demi perkataan|kata per kata|"
    r"salita por salita|neno kwa neno|word for word|verbatim|lafz ba lafz"
)
# The text itself ("the text above this conversation").
_TEXT = _words(
    r"texto|testo|texte|text|tekst\w*|κείμενο|metni|текст\w*|النص|הטקסט|متن|ٹیکسٹ|टेक्स्ट|"
    r"লেখা|文字|文本|内容|內容|文章|テキスト|텍스트|내용|văn bản|ข้อความ|teks|maandishi"
)
# Each list heads one alternative, which holds every phrase that starts with it: Python's
# ``re`` tries every alternative at every position, so a list searched twice costs twice (the
# same matches as one alternative per phrase, at half the time).
_EXTRACTION = (
    f"{_TOLD}(?:.{{0,12}}?{_HIDDEN}|\\s?{_SECRET}|.{{0,60}}?{_VERBATIM}|.{{0,80}}?{_PRECEDING})|"
    f"{_VERBATIM}(?:.{{0,60}}?{_TOLD}|.{{0,80}}?{_PRECEDING})|{_TEXT}.{{0,80}}?{_PRECEDING}|"
    f"{_PRECEDING}.{{0,80}}?(?:{_VERBATIM}|{_TOLD}|{_TEXT})|{_HIDDEN}.{{0,12}}?{_TOLD}|"
    f"{_SECRET}\\s?{_TOLD}|{_SYSTEM_MESSAGE}"
)
_ELSEWHERE = ".{0,40}?"
# Not a customer's own payment instructions: "ignore the previous instructions I gave about the
# transfer", "disregard any previous instructions about my direct debit".
_NOT_PAYMENT = (
    r"(?! (i|we) (gave|sent|left|made)\b| (about|for|on) (my|the|this|that) (transfer|payment|"
    r"direct debit|standing order)\b)"
)
_MULTILINGUAL = (
    f"{_OVERRIDE_VERBS}{_ELSEWHERE}{_INSTRUCTION_NOUNS}{_NOT_PAYMENT}|{_INSTRUCTION_NOUNS}{_ELSEWHERE}"
    f"{_OVERRIDE_VERBS}|{_AI}{_ELSEWHERE}{_UNRESTRICTED}|{_UNRESTRICTED}{_ELSEWHERE}{_AI}|"
    f"{_DEV_MODE}|{_SYSTEM_PROMPT}|{_EXTRACTION}"
)
# Every alternative starts with a word of one of the lists, so one lookahead on all of them
# (one trie) rules out a position before each list is tried there in turn: 100 -> 8 us a
# message without any of the words, the same matches.
MULTILINGUAL = f"(?={any_word('|'.join(_LISTS))})(?:{_MULTILINGUAL})"


_W = r"[^.?!\n]{0,40}?"  # a short stretch of words within one sentence
_PATTERNS: dict[str, str] = {
    "override": (
        r"\b(ignore|disregard|forget|override|bypass|overrule|abandon|drop|skip)\b"
        + _W
        + r"\b(previous|prior|above|earlier|preceding|all|any|your|these|those|system|initial|"
        r"original|safety|existing|current)\b"
        + _W
        + r"\b(instructions?|rules|prompts?|guidelines|directives?|restrictions|programming|"
        r"guardrails?|policies|constraints|filters|training|commands)\b" + _NOT_PAYMENT
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
        r"rules)\b(?! (on|for) (my|the) (card|account|app)\b)|"
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
    **FRAUD,
    "multilingual_override": (
        r"\bignore[rz]?\b.{0,30}\b(instructions|consignes|règles)\b" + _NOT_PAYMENT + "|"
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
# A name like "Dan" must not count: the DAN alternative is meant in capitals only.
_PATTERNS["role_switch"] = _PATTERNS["role_switch"].replace(r"\bDAN\b", r"\b(?-i:DAN)\b")
PATTERNS = {
    name: re.compile(at_word_start(pattern), re.IGNORECASE | re.DOTALL)
    for name, pattern in _PATTERNS.items()
}


# Chosen on the validation conversations: the lowest threshold that refuses no genuine
# conversation the other checks let through. With the classifier fitted on 2,710 exemplars the
# other checks stop 24 of 28 attacks and this threshold one more; 0.87 would stop 27 and refuse
# 2 more of 82 genuine conversations (`python bench/rails_eval.py --conversation-thresholds`
# prints the sweep).
CONVERSATION_THRESHOLD = 0.93
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
    caution: float | None = None
    """From here up to ``threshold`` a message is answered without the model; None: never."""

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
            caution=data.get("caution"),
        )

    def save(self, path: Path = CLASSIFIER_PATH, lexical_path: Path = LEXICAL_PATH) -> None:
        data = {
            "threshold": self.threshold,
            "caution": self.caution,
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
    """``injection_pattern``, ``injection_classifier`` or ``injection_caution``."""
    reason: str
    """The pattern's name, or the classifier's probability."""
    score: float
    block: bool = True
    """False for ``injection_caution``: answer from the FAQ's text only, without the model."""


EXEMPT = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in FRAUD_EXEMPT.items()}


def match_patterns(texts: Sequence[str]) -> Finding | None:
    for text in texts:
        for name, pattern in PATTERNS.items():
            if pattern.search(text) and not (name in EXEMPT and EXEMPT[name].search(text)):
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
        caution = self.classifier.caution
        if caution is not None and score >= caution:
            return Finding("injection_caution", f"p={score:.2f}", score, block=False)
        return None

    def check_conversation(self, earlier: Sequence[str], message: str) -> Finding | None:
        """The recent user turns read as one text, so an attack split across messages is seen
        whole; None when there is no earlier turn to read with.

        The patterns read every view of the joined turns; the classifier reads their n-grams
        with the vector of this message (which the pipeline has embedded already). Embedding
        the joined turns as well cost a second model run on every later turn (4 ms here) and
        stopped no validation attack more at the threshold it needed (0.95: a customer's
        ordinary turns read together drift towards the attack side); with the message's
        vector, ``CONVERSATION_THRESHOLD`` can sit lower and stops more."""
        if not earlier:
            return None
        # One run of words: a payload split over messages must match as if sent at once.
        joined = _TURN_BREAK.sub(" ", " ".join([*earlier, message]))
        readings = views(joined)
        found = match_patterns(readings)
        if found:
            return Finding("conversation_injection_pattern", found.reason, found.score)
        vector = self.encoder.encode_query(message)
        vectors = np.repeat(vector[None, :], len(readings), axis=0)
        score = float(self.classifier.probability(vectors, readings).max())
        if score >= CONVERSATION_THRESHOLD:
            return Finding("conversation_injection_classifier", f"p={score:.2f}", score)
        return None
