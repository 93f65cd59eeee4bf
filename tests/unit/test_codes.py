"""Codes: how they are made, read back from what a customer typed, and hashed (app.codes.hashing)."""

import base64
import re

import pytest

from app.codes import hashing
from app.codes.hashing import CodeHasher, generate_code, new_identifier, normalise_code

SECRET = "a-server-secret-of-more-than-32-characters"


class TestGeneratingCodes:
    @pytest.mark.parametrize("length", range(6, 11))
    def test_a_code_has_exactly_the_configured_number_of_ascii_digits(self, length):
        for _ in range(200):
            code = generate_code(length)
            assert len(code) == length
            assert code.isascii()
            assert code.isdigit()

    def test_leading_zeros_are_kept(self, monkeypatch):
        monkeypatch.setattr(hashing.secrets, "randbelow", lambda upper: 42)
        assert generate_code(6) == "000042"
        assert generate_code(10) == "0000000042"

    def test_every_code_of_that_length_can_come_out(self, monkeypatch):
        asked = []
        monkeypatch.setattr(hashing.secrets, "randbelow", lambda upper: asked.append(upper) or upper - 1)
        assert generate_code(6) == "999999"
        assert asked == [10**6]


class TestReadingATypedCode:
    @pytest.mark.parametrize(
        ("typed", "code"),
        [
            ("123456", "123456"),
            ("١٢٣٤٥٦", "123456"),  # Arabic-Indic
            ("۱۲۳۴۵۶", "123456"),  # Extended Arabic-Indic (Persian, Urdu keyboards)
            ("٠٠٠٠٤٢", "000042"),
            ("١٢٣456", "123456"),
            ("123 456", "123456"),
            ("123-456", "123456"),
            (" 12 34-56 ", "123456"),
        ],
    )
    def test_digits_of_any_arabic_keyboard_become_ascii_and_separators_go(self, typed, code):
        assert normalise_code(typed) == code

    @pytest.mark.parametrize(
        "typed",
        [
            "",
            " - ",
            "12ab56",
            "abcdef",
            "１２３４５６",  # fullwidth digits
            "१२३४५६",  # Devanagari digits
            "¹²³⁴⁵⁶",
            "123.456",
            "+123456",
        ],
    )
    def test_anything_else_is_not_a_code(self, typed):
        assert normalise_code(typed) is None


class TestHashingCodes:
    def test_a_code_hash_is_hex_sha256_and_does_not_contain_the_code(self):
        code_hash = CodeHasher(SECRET).code("reg_abc", "123456")
        assert re.fullmatch(r"[0-9a-f]{64}", code_hash)
        assert "123456" not in code_hash

    def test_the_same_code_for_the_same_verification_hashes_the_same_on_every_server(self):
        assert CodeHasher(SECRET).code("reg_abc", "123456") == CodeHasher(SECRET).code("reg_abc", "123456")

    def test_the_hash_depends_on_the_server_secret(self):
        other = CodeHasher(SECRET + "!")
        assert CodeHasher(SECRET).code("reg_abc", "123456") != other.code("reg_abc", "123456")

    def test_a_code_is_worth_nothing_for_another_verification(self):
        hasher = CodeHasher(SECRET)
        assert hasher.code("reg_abc", "123456") != hasher.code("reg_abd", "123456")

    def test_another_code_hashes_differently(self):
        hasher = CodeHasher(SECRET)
        assert hasher.code("reg_abc", "123456") != hasher.code("reg_abc", "123457")


DETAILS = {"first_name": "Sara", "last_name": None, "phone": "+966551234567", "verified_by": "phone"}


class TestFingerprints:
    def test_a_fingerprint_is_16_hex_characters_that_do_not_reveal_the_details(self):
        fingerprint = CodeHasher(SECRET).fingerprint(DETAILS)
        assert re.fullmatch(r"[0-9a-f]{16}", fingerprint)
        assert "551234567" not in fingerprint

    def test_the_same_details_in_any_order_have_the_same_fingerprint_on_every_server(self):
        reordered = dict(reversed(DETAILS.items()))
        assert CodeHasher(SECRET).fingerprint(DETAILS) == CodeHasher(SECRET).fingerprint(reordered)

    def test_the_fingerprint_is_keyed_by_the_server_secret(self):
        assert CodeHasher(SECRET).fingerprint(DETAILS) != CodeHasher(SECRET + "!").fingerprint(DETAILS)

    @pytest.mark.parametrize(
        "changed",
        [
            pytest.param({**DETAILS, "first_name": "Sarah"}, id="another value"),
            pytest.param({**DETAILS, "first_name": "sara"}, id="another case"),
            pytest.param({**DETAILS, "last_name": ""}, id="empty instead of none"),
            pytest.param(
                {name: v for name, v in DETAILS.items() if name != "last_name"}, id="a none left out"
            ),
            pytest.param({**DETAILS, "email": "sara@example.com"}, id="one more field"),
            pytest.param({**DETAILS, "phone": "+966551234568"}, id="another phone"),
        ],
    )
    def test_any_difference_in_the_details_changes_the_fingerprint(self, changed):
        hasher = CodeHasher(SECRET)
        assert hasher.fingerprint(changed) != hasher.fingerprint(DETAILS)

    def test_a_fingerprint_is_not_the_hash_of_a_code_or_a_destination(self):
        hasher = CodeHasher(SECRET)
        assert hasher.fingerprint({}) not in (
            pseudonym(hasher, "phone", "+966551234567"),
            hasher.code("", "")[:32],
        )


def pseudonym(hasher: CodeHasher, channel: str, address: str) -> str:
    return hasher.destination(channel, address).pseudonym


class TestDestinations:
    def test_a_pseudonym_is_32_hex_characters_that_do_not_reveal_the_address(self):
        destination = CodeHasher(SECRET).destination("phone", "+966551234567")
        assert re.fullmatch(r"[0-9a-f]{32}", destination.pseudonym)
        assert "551234567" not in destination.pseudonym

    def test_a_destination_keeps_its_address_and_shows_only_its_mask(self):
        destination = CodeHasher(SECRET).destination("phone", "+966551234567")
        assert (destination.channel, destination.address) == ("phone", "+966551234567")
        assert destination.masked == "+966 55••••567"

    def test_a_destination_keeps_its_pseudonym(self):
        hasher = CodeHasher(SECRET)
        assert pseudonym(hasher, "email", "omar@example.com") == pseudonym(
            hasher, "email", "omar@example.com"
        )

    def test_emails_differing_only_in_case_are_one_destination(self):
        hasher = CodeHasher(SECRET)
        assert pseudonym(hasher, "email", "Omar.Saleh@Example.com") == pseudonym(
            hasher, "email", "omar.saleh@example.com"
        )

    def test_a_phone_and_an_email_never_share_a_pseudonym(self):
        hasher = CodeHasher(SECRET)
        assert pseudonym(hasher, "phone", "+966551234567") != pseudonym(hasher, "email", "+966551234567")

    def test_the_pseudonym_is_keyed_by_the_server_secret(self):
        ours, theirs = CodeHasher(SECRET), CodeHasher(SECRET + "!")
        assert pseudonym(ours, "phone", "+966551234567") != pseudonym(theirs, "phone", "+966551234567")

    def test_two_destinations_get_two_pseudonyms(self):
        hasher = CodeHasher(SECRET)
        assert pseudonym(hasher, "phone", "+966551234567") != pseudonym(hasher, "phone", "+966551234568")


class TestIdentifiers:
    def test_an_identifier_carries_its_prefix_and_128_random_bits(self):
        identifier = new_identifier("reg")
        prefix, _, random_part = identifier.partition("_")
        assert prefix == "reg"
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", random_part)
        assert len(base64.urlsafe_b64decode(random_part + "==")) >= 16

    def test_identifiers_do_not_repeat(self):
        assert len({new_identifier("reg") for _ in range(10_000)}) == 10_000
