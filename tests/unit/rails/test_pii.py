from __future__ import annotations

import pytest

from rails.pii import luhn_ok, mask


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("card 4111 1111 1111 1111 lost", "card [CARD] lost", ("card",)),
        ("card 4111-1111-1111-1111", "card [CARD]", ("card",)),
        ("order 4111 1111 1111 1112 ref", "order [ACCOUNT] ref", ("account",)),  # not Luhn
        ("IBAN GB82 WEST 1234 5698 7654 32 please", "IBAN [IBAN] please", ("iban",)),
        ("IBAN GB00 WEST 1234 5698 7654 32", "IBAN GB00 WEST [ACCOUNT]", ("account",)),
        ("my account number is 31926819", "my account number is [ACCOUNT]", ("account",)),
        ("call 0800 000 0000 now", "call [PHONE] now", ("phone",)),
        ("write to jo.bloggs+bank@example.co.uk", "write to [EMAIL]", ("email",)),
        ("call me on +44 7700 900123", "call me on [PHONE]", ("phone",)),
        ("my NI number is QQ 12 34 56 C", "my NI number is [NATIONAL_ID]", ("national_id",)),
        ("SSN 123-45-6789.", "SSN [NATIONAL_ID].", ("national_id",)),
        ("sort code 12-34-56 is fine", "sort code 12-34-56 is fine", ()),
        ("a £2,500 loan over 36 months", "a £2,500 loan over 36 months", ()),
    ],
)
def test_mask(text: str, masked: str, kinds: tuple[str, ...]) -> None:
    result = mask(text)
    assert result.text == masked
    assert result.kinds == kinds


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")
