"""Checksums that separate real card numbers and IBANs from random digits.

Without them every long digit string (order ids, timestamps) would be
taken for a card number.
"""

from __future__ import annotations


def luhn_valid(digits: str) -> bool:
    """Return True when ``digits`` (only 0-9) passes the Luhn check."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Return True when ``iban`` (no spaces, upper case) passes ISO 13616 mod 97."""
    if not 15 <= len(iban) <= 34 or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    # Base-36 maps digits to themselves and A..Z to 10..35, as ISO 13616 asks.
    numeric = "".join(str(int(char, 36)) for char in rearranged)
    return int(numeric) % 97 == 1
