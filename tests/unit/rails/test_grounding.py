from __future__ import annotations

from rails.grounding import check, grounded, names, numbers, sentences, support

CONTEXT = [
    "How do I report a stolen card?\nCall our 24/7 fraud team on 0800 000 0199 and freeze "
    "the card in the app. We send a replacement within five working days."
]


def test_supported_answer_passes() -> None:
    answer = (
        "Call the fraud team on 0800 000 0199 and freeze the card in the app. "
        "We send a replacement within 5 working days. Let me know if you need anything else!"
    )
    assert grounded(check(answer, CONTEXT))


def test_the_same_words_in_another_order_say_something_else() -> None:
    """The word check passes only what one chunk says in its own word pairs: a reshuffle of
    its words is left to the embedding (none here), and fails."""
    shuffled = "The card freezes the fraud team in the app when you call 0800 000 0199."
    checks = check(shuffled, CONTEXT)
    assert checks[0].lexical >= 0.5 and not grounded(checks)


def test_wrong_number_fails() -> None:
    result = check("Call our fraud team on 0800 123 4567.", CONTEXT)
    assert not grounded(result) and result[0].missing_numbers == ("08001234567",)


def test_invented_policy_fails() -> None:
    result = check(
        "Freeze the card in the app. Northwind also refunds every purchase made abroad.", CONTEXT
    )
    assert [c.supported for c in result] == [True, False]


def test_restating_the_question_as_fact_fails() -> None:
    cheques = ["Paying in a cheque\nPay cheques in at any branch or Post Office counter."]
    answer = "Pay cheques in at any branch or Post Office counter for quick cash."
    # Without the question the sentence shares enough words with the chunk to pass.
    assert grounded(check(answer, cheques))
    # "quick" and "cash" come from the question, and the chunk never says them.
    assert not grounded(check(answer, cheques, question="how to get quick cash from cheques"))
    # The question's words that the chunk does use are fine.
    fine = "You can pay cheques in at any branch or Post Office counter."
    assert grounded(check(fine, cheques, question="where can I pay in a cheque quickly?"))


def test_a_yes_or_no_asserts_the_question() -> None:
    cards = ["Can I use my card abroad?\nYes, your debit card works wherever Visa is accepted."]
    assert grounded(check("Yes.", cards, question="can I use my card abroad?"))
    assert not grounded(check("Yes, we do.", cards, question="can I buy bitcoin with my card?"))


def test_helpers() -> None:
    assert sentences("One. Two!\n- Three") == ["One.", "Two!", "Three"]
    assert {"24", "7", "08000000199", "5"} <= numbers(CONTEXT[0])


BONDS_AND_LOANS = [
    "What do savings bonds pay?\nOur 2-year savings bonds pay an interest rate of 6% per annum.",
    "How do I apply for a personal loan?\nApply for a personal loan in the app; we decide within "
    "a day.",
]


def test_a_sentence_stitched_from_two_chunks_is_supported_by_neither() -> None:
    """Every word and number occurs in some chunk, but no one chunk states the claim."""
    answer = "The interest rate on a personal loan is 6% per annum."
    result = check(
        answer, BONDS_AND_LOANS, question="what is the interest rate on a personal loan?"
    )
    assert not grounded(result) and result[0].support is None
    # Each chunk supports what it says, and the check names the supporting chunk.
    said = check(
        "Our savings bonds pay an interest rate of 6% per annum. Apply for a personal loan in "
        "the app.",
        BONDS_AND_LOANS,
    )
    assert grounded(said) and [c.support for c in said] == [0, 1]
    assert support(said) == [0, 1]


def test_a_name_the_chunk_does_not_give_is_unsupported() -> None:
    cards = ["Which cards do you offer?\nWe offer the Classic debit card and the Gold credit card."]
    assert grounded(check("We offer the Gold credit card.", cards))
    assert not grounded(check("We offer the Platinum credit card.", cards))
    assert names("You can pay with Apple Pay at Tesco.") == {"apple", "pay", "tesco"}


def test_courtesy_sentences_need_no_chunk() -> None:
    result = check("Let me know if you need anything else!", [])
    assert grounded(result) and result[0].support is None
    assert not grounded(check("Your card arrives in 5 days.", []))
