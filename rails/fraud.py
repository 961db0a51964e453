"""Requests for help with fraud against the bank or its customers (part of the input rail's
patterns, :mod:`rails.injection`).

Such a request reads like a customer's question, in the same words ("account", "payee",
"card"), so the embedding classifier stops two thirds of them at the false-refusal rate it is
held to. What gives the rest away is what the sender says about what they are doing: hiding it
from the account's owner or the bank, acting in an account or with a card that is not theirs,
passing as someone else, a claim they admit is false, a forged document or message, money from
victims or strangers passed on. These patterns look for those cues, each phrased so that a
victim or a customer telling a similar story does not match: "someone pretending to be
Northwind called me", "I got a fake invoice", "can I open an account without my husband
knowing?", "I'm his carer", "even though I have money in the account". They were written from
the attacks of the training exemplars that the classifier misses and checked on the validation
split, where no genuine message or conversation matches; ``tests/unit/rails/test_fraud.py``
also holds about fifty such stories written for the purpose. A first, broader version refused
26 of 31 of them: these cues are narrow on purpose, and stop fewer attacks.

:mod:`rails.injection` searches them rewritten by :func:`rails.alternation.at_word_start`,
which is several times cheaper than the plain alternations (``bench/rails_eval.py``).
"""

from __future__ import annotations

_S = r"[^.?!\n]"  # within one sentence
_RELATION = (
    r"ex(?:-wife|-husband|-partner)?|flatmate|roommate|housemate|neighbour|neighbor|boss|"
    r"employer|husband|wife|partner|girlfriend|boyfriend|grandmother|grandfather|grandma|"
    r"grandad|granny|gran|nan|nana|uncle|aunt|auntie|dad|mum|mom|mother|father|parents?|"
    r"grandparents?|brother|sister|son|daughter|nephew|niece|cousin|friend|mate|colleague|"
    r"tenant|landlord|client|customer|resident|stranger|victim|owner|cardholder|"
    r"account ?holder|employee|patient"
)
_WHO = (
    r"(?:(?:my|his|her|their|our|a|the|an) )?(?:(?:elderly|old|late|dead|confused|vulnerable|"
    rf"former|new) )?(?:{_RELATION})s?"
)
_THINGS = (
    r"savings|money|cash|account|card|pin|password|passcode|login|app|phone|pension|balance|"
    r"transactions|statements?|details|benefits|payments?|identity|id|passport|isa|texts|alerts|"
    r"number|address|email|limits?"
)
# Another person's money, account or documents.
_THEIRS = (
    rf"\b{_WHO}'s? (?:\w+ )?(?:{_THINGS})\b|\b(?:someone|somebody|someone else|another person)'s "
    rf"(?:\w+ )?(?:{_THINGS})\b|\b(?:his|her|their) (?:\w+ )?(?:{_THINGS})\b"
)
# What is done to it: taken, used, moved, approved, switched off. Reading it is not enough
# (a worried relative checks a parent's statements without the carer knowing).
_TAKEN = (
    r"take|taking|spend|use|using|move|transfer|withdraw|empty|drain|approve|add|change|"
    r"redirect|forward|borrow|cash|switch off|turn off|top (?:myself|me) up|raise|lower|"
    r"increase|get into|log ?in(?:to)?|access"
)
# People with no claim on the customer's help: an ex, a neighbour, a stranger. (Not clients or
# customers: a business takes their card details every day.)
_OUTSIDER = (
    r"(?:my |an? |the |some )?(?:(?:old|elderly|dead|former) )?(?:ex(?:-wife|-husband|-partner)?|"
    r"stranger|neighbour|neighbor|housemate|flatmate|roommate|girlfriend|boyfriend|victim|"
    r"dead person|someone else|another person|somebody else|other people)'s?"
)
# Kept from the owner or the bank.
_HIDDEN = (
    r"\b(?:without|before) (?:(?:him|her|them|anyone|anybody|the bank|the owner|northwind|you|"
    r"the (?:customer|cardholder|account holder|trustees|victim)|(?:my|his|her|their) \w+) )"
    r"(?:\w+ )?(?:knowing|noticing|notices|finding out|finds out|seeing|sees|clocking|clocks|"
    r"realising|realizing|spotting|confirming|approving|reports|checking)\b|"
    r"\bso (?:he|she|they|the (?:owner|bank|trustees|customer)|my \w+|northwind|you|nobody|"
    r"no one) (?:doesn't|does not|don't|do not|won't|will not|can't|cannot|never) (?:see|notice|"
    r"find|know|realise|realize|spot|ask|trace|get)s?\b|"
    r"\b(?:won't|wouldn't|doesn't|don't|not) (?:look|seem) (?:odd|suspicious|unusual|dodgy)\b|"
    r"\bwithout (?:being|getting) (?:noticed|flagged|caught|traced|detected)\b|"
    r"\bwithout telling (?:the bank|northwind|you|anyone|him|her|them)\b"
)
PATTERNS = {
    # The older list (sessions 5-9): access to a relative's account, stolen cards, mules...
    "fraud": (
        # Emptying anyone's account; getting into an outsider's (a relative's may be a carer's
        # or an attorney's job: the hiding, in fraud_conceal, tells the two apart).
        r"\b(take over|empty|drain)\b[^.]{0,40}\b(someone else's|another person's|other "
        r"people's|(my )?(?<!late )(flatmate|roommate|neighbour|boss|ex|husband|wife|partner|"
        r"grandmother|grandfather|grandma|grandad|uncle|aunt|dad|mum|mother|father|brother|"
        r"sister|friend|colleague)'s)\b|"
        r"\b(access|get into|log ?in(?:to)?|withdraw from|change the (registered )?(mobile|phone|"
        r"number|email|address) on|get the pin (of|for))\b[^.]{0,40}\b(someone else's|another "
        r"person's|other people's|(my )?(flatmate|roommate|neighbour|boss|ex|friend|colleague)'s)"
        r"\b|"
        r"\b(in|under) (someone else's|another person's|a fake|a false) (name|identity)\b|"
        r"\b(a |the )?cards? (i|we) found\b|\bstolen (credit |debit )?cards?\b[^.]{0,30}\b(use|"
        r"online|buy|shop|cash)\b|\bscam (payments|money)\b|\bwithout telling (the (owner|"
        r"account holder|cardholder)|him|her|your (fraud|bereavement) team)\b|"
        r"\b(list|dump|database) of (customer|client)s?'? ?(emails|details|numbers|addresses|"
        r"data)\b|"
        r"\bchargeback\b[^.]{0,40}\b((even though|when|but|though) i|for (goods|items|"
        r"something|stuff|things) (that )?i) (actually|already) (received|got)\b|"
        r"\b(edit|alter|fake|forge|doctor|photoshop)\b[^.]{0,30}\b(statements?|payslips?|bank "
        r"letters?|passports?|id documents?)\b|\bbefore (your|the) fraud (team|department|"
        r"checks?) (notices?|spots?|catch(es)?|flags?|blocks?|freezes?|stops?|kicks? in|can|"
        r"calls? the (customer|owner|account holder))\b|"
        r"\b(avoid|skip)\b[^.]{0,30}\b((anti-)?money[- ]laundering checks|kyc|fraud (checks?|"
        r"detection|alerts?))\b|"
        # "Avoid" and "skip" are also what a customer tired of a step says.
        r"\b(bypass|evade|get around|trick|beat|fool)\b[^.]{0,30}\b(fraud (checks?|team|"
        r"detection|alerts?)|2fa|two-factor|verification|security checks?|one-time (codes?|"
        r"passcodes?|passwords?)|passcodes?|otp|"
        r"kyc|(?:anti-)?money[- ]laundering checks)\b|"
        r"\b(stolen|someone(?:'s| else's)) (phone|card|details|credentials|identity)\b[^.]{0,40}"
        r"\b(log ?in|use|access|get into|pay|buy)\b|\b(list|dump|batch|bunch) of (card numbers|"
        r"cards|accounts|logins|credentials)\b|"
        # "Money laundering" and "a money mule" are also what a customer asks about: the verb,
        # or a mule the sender would be, find or use.
        r"\blaunder\b|\b(?:be|become|recruit|find|hire|use|set up|open|run|get|my) (?:\w+ ){0,2}"
        r"(?:money )?mule(?:s|s'| accounts?)?\b|"
        r"\b(another|other|someone else's|a different) (customer|person|client|account holder)"
        r"'s (\w+ )?(statement|balance|address|details|data|number|account)"
    ),
    # Doing something to someone else's money or account, and keeping it from them or the
    # bank: all three must be said (a customer hiding their own account from an abusive partner
    # says only the last; one checking a parent's statements without the carer knowing, no
    # taking).
    "fraud_conceal": (
        rf"\b(?:{_TAKEN})\b{_S}{{0,40}}?(?:{_THEIRS}){_S}{{0,80}}?(?:{_HIDDEN})|"
        # ...or from the police and the bank: no customer needs that ("caught out" by a fee).
        r"\bwithout (?:being|getting) caught\b(?! out)"
    ),
    # Into the account, card or data of someone with no claim on the customer's help.
    "fraud_third_party": (
        r"\b(?:hack(?: into)?|take over|see|check|reset|change|use|activate|approve \w+ (?:\w+ )?"
        r"on|access|log ?in(?:to)?|get into|empty|drain|tell me|what's|what is|a replacement "
        rf"card for){_S}{{0,30}}?\b{_OUTSIDER} (?:\w+ )?(?:account|card|balance|pin|password|"
        r"login|app|phone|transactions|statements?|details|identity|passport|card number)\b|"
        rf"\b(?:open|take out|apply|sign up|set up|register|get){_S}{{0,40}}\bin (?:my late "
        rf"\w+'s|{_OUTSIDER}) name\b|\busing (?:my )?late \w+'s (?:identity|id|details)\b|"
        rf"\b{_OUTSIDER} (?:\w+ ){{0,2}}(?:card|card number|card details|login|phone)\b.{{0,80}}?"
        r"\b(?:use it|use them|activate it|tap|spend)\b|"
        r"\b(?:found|picked up) (?:a|an|someone's|somebody's|this|someone else's|a stranger's) "
        rf"(?:\w+ ){{0,2}}(?:card|wallet|purse)\b.{{0,90}}?\b(?:tap|spend|try|buy|shop|use it "
        r"(?:online|to pay|to buy|at|in|for))\b|\b(?:card|wallet|purse) (?:i|we) (?:found|picked "
        rf"up)\b{_S}{{0,60}}\b(?:tap|spend|try|buy|shop|pins?|use)\b|"
        rf"\bwhat's their (?:postcode|address|"
        r"name|balance|date of birth)\b|\bwhether \S+ has an account with (?:you|northwind)\b|"
        r"\b(?:date of birth|address|postcode|phone number) you hold for\b|"
        rf"\baccount \d{{6,8}}\b{_S}{{0,20}}\bis the balance\b"
    ),
    # Who holds an account or a card: not for a customer to know. A customer who paid the wrong
    # account asks it too; :data:`EXEMPT` passes them on to the FAQ (an answer, or a human).
    "fraud_recon": (
        r"\b(?:customer|person|holder|owner) who (?:owns|holds|has) (?:account|card)\b|"
        r"\b(?:holder|owner) of (?:account|card)\b|\bwho owns (?:the )?(?:account|card|number)\b|"
        r"\b(?:linked to|belonging to|registered to) (?:account|card) (?:number )?\d"
    ),
    # Passing as the customer, as staff or as an authority (not "someone pretending to be
    # you", nor a carer calling "as my mum's carer").
    "fraud_impersonate": (
        r"\b(?:and|by|i|i'm|i am|we|up|me) (?:pretend(?:ing)?|posing|pose) (?:to be|as) (?:him|"
        r"her|them|my \w+\b(?!')|his \w+\b(?!')|from|a northwind|northwind|the (?:owner|"
        r"cardholder|account holder))\b|\b(?:ring(?:ing)?|call(?:ing)?|phone|phoning) (?:up )?as "
        r"(?:him|her|them|my \w+\b(?!'))|\b(?:say|tell (?:you|them|staff|the bank)|claim) (?:that "
        r")?(?:i'm|i am) (?:from|calling from) (?:northwind|the bank|your|hmrc|the police)\b|"
        r"\b(?:i'm|i am) calling from northwind\b|\bnorthwind (?:it|security|head office|fraud "
        r"team) here\b"
    ),
    # A claim the sender admits is false; a payment dressed up as something else.
    "fraud_false_claim": (
        r"\b(?:say|claim|report|tell (?:you|them|the bank|northwind)|pretend|make out)\b"
        rf"{_S}{{0,40}}\b(?:stolen|hacked|cloned|lost|unauthori[sz]ed|never (?:came|arrived|"
        rf"received|checked in)|scam|fraud)\b{_S}{{0,60}}\b(?:myself|knowingly|actually (?:did|"
        r"made|spent|sent|used|got|received|sold|gave|lent)|even though (?:it|they|i) did|"
        r"really (?:made|did|sent|spent))\b|"
        rf"\bmyself\b{_S}{{0,60}}\b(?:if i|then|and then) (?:now )?(?:report|say|claim)\b"
        rf"{_S}{{0,30}}\b(?:stolen|hacked|cloned|unauthori[sz]ed|fraud)\b|"
        r"\beven though (?:it|they) did\b(?! \w)|\bknowingly sent\b|"
        rf"\b(?:inflate|bump up|exaggerate|overstate|lie about)\b{_S}{{0,20}}\b(?:my )?(?:salary|"
        r"income|wages|earnings)\b|"
        rf"\b(?:make|set)\b{_S}{{0,40}}\b(?:look|sound|seem) like (?:a |an )?(?:fuel|real|"
        r"genuine|legit\w*|small business|business expense|salary|it came from)\b|"
        r"\b(?:forge|copy|fake) (?:\w+ ){0,2}\w+'s (?:name|signature)\b|"
        r"\bcreditors (?:can't|cannot|won't|don't) (?:find|see|get|touch|reach)\b|"
        r"\bso the (?:trustees|auditors|owner|charity|club|company|council) (?:doesn't|does not|"
        r"don't|do not|won't|can't|never) (?:see|notice|find out|know)\b|"
        rf"\bbounce (?:a |some )?cheques?\b{_S}{{0,20}}\b(?:on purpose|deliberately|for "
        r"(?:quick |easy |free )?(?:cash|money))"
    ),
    # A forged document, identity or message; victims' money; strangers' money passed on.
    "fraud_forge": (
        r"\b(?:make|create|write|draft|design|set up|build|produce|forge|need|want|open) "
        r"(?:me )?(?:a |an |some )?(?:fake|forged|counterfeit)\b|"
        rf"\b(?:open|apply|sign up|register|pay)\b{_S}{{0,30}}\b(?:with|using) (?:a |an |some )?"
        r"(?:fake|forged|false)\b|"
        rf"\b(?:write|draft|make|create)\b{_S}{{0,40}}\b(?:looks?|sounds?) (?:exactly )?like "
        r"(?:it's from |it came from )?(?:a |an |the )?(?:northwind|bank|hmrc|royal mail|real)\b|"
        rf"\b(?:write|draft|make|create|compose|send)\b{_S}{{0,30}}\bfrom northwind's\b|"
        r"\bthe victim'?s (?:bank|account|money|card|phone|details)\b|"
        r"\b(?:cards?|numbers) in my batch\b|\b(?:keep|take) a cut\b|"
        # Having or using one, not asking what the word means.
        r"\b(?:get|need|open|use|set up|run|find|my|your|as a) (?:a |an )?(?:\w+ )?drop "
        r"accounts?\b|"
        r"\b(?:let|allow) (?:a |some )?(?:stranger|strangers|guy|people i don't know|someone i "
        r"met online) (?:\w+ )?use my (?:account|card|login|details)\b|"
        r"\bso i can take what(?:ever)? i (?:like|want)\b"
    ),
}

# What takes a message out of a pattern, wherever it stands in the message (a lookahead sees only
# what follows). The bot holds no customer's data, so an attacker who claims a mistaken payment
# gets the same FAQ answer as the customer who made one.
EXEMPT = {
    "fraud_recon": (
        r"\b(?:by mistake|by accident|mistakenly|accidentally|in error|misdirected|wrong "
        r"(?:account|person|payee|sort code|number|details|account number|bank details))\b"
    ),
}
