"""Phones, emails and names as a customer types them (app.identity)."""

import phonenumbers
import pytest

from app.identity import (
    EMAIL,
    MASK,
    PHONE,
    InvalidField,
    check_country_key,
    clean_name,
    mask,
    mask_email,
    mask_phone,
    parse_email,
    parse_phone,
)


def shown_digits(national_length: int) -> tuple[int, int]:
    """How many digits of a national number the mask shows at its head and at its tail."""
    if national_length >= 9:
        return 2, 3
    if national_length == 8:
        return 1, 3
    if national_length == 7:
        return 1, 2
    return 0, 2


class TestMaskingAPhone:
    def test_a_saudi_mobile_shows_its_prefix_and_last_three_digits(self):
        assert mask_phone("+966551234567") == "+966 55••••567"

    @pytest.mark.parametrize(
        ("e164", "masked"),
        [
            ("+4915123456789", "+49 15••••••789"),  # 11 national digits: 2 at the head, 3 at the tail
            ("+14155550123", "+1 41•••••123"),  # 10
            ("+79161234567", "+7 91•••••567"),  # 10, a one-digit country code
            ("+966551234567", "+966 55••••567"),  # 9
            ("+212612345678", "+212 61••••678"),  # 9, a three-digit country code
            ("+97332123456", "+973 3••••456"),  # 8: 1 and 3
            ("+6838884012", "+683 8••••12"),  # 7: 1 and 2
            ("+50051234", "+500 •••34"),  # 5: none and 2
            ("+6834002", "+683 ••02"),  # 4: none and 2
        ],
    )
    def test_shorter_numbers_show_fewer_digits(self, e164, masked):
        assert mask_phone(e164) == masked

    @pytest.mark.parametrize(
        ("e164", "country"),
        [
            ("+12423456789", "+1"),  # the Bahamas dial +1 242: the country code is still 1
            ("+447911123456", "+44"),
            ("+4915123456789", "+49"),
            ("+97150123456", "+971"),
        ],
    )
    def test_the_country_code_is_split_off_as_the_numbering_plan_has_it(self, e164, country):
        assert mask_phone(e164).partition(" ")[0] == country

    @pytest.mark.parametrize(
        "e164",
        [
            "+966551234567",  # Saudi Arabia, 9 national digits
            "+14155550123",  # United States, 10
            "+447911123456",  # United Kingdom, 10
            "+4915123456789",  # Germany, 11
            "+8613812345678",  # China, 11
            "+97332123456",  # Bahrain, 8
            "+6838884012",  # Niue, 7
            "+50051234",  # Falkland Islands, 5
            "+6834002",  # Niue, 4
        ],
    )
    def test_any_number_keeps_its_country_and_last_digits_and_hides_the_middle(self, e164):
        number = phonenumbers.parse(e164)
        national = phonenumbers.national_significant_number(number)
        head_length, tail_length = shown_digits(len(national))

        masked = mask_phone(e164)

        country, _, masked_national = masked.partition(" ")
        assert country == f"+{number.country_code}"
        head, tail = masked_national.split(MASK)[0], masked_national.split(MASK)[-1]
        assert (head, tail) == (national[:head_length], national[-tail_length:])
        assert masked_national.count(MASK) == len(national) - head_length - tail_length
        shown = len(masked_national.replace(MASK, ""))
        assert shown <= len(national) // 2 + 1
        assert national not in masked
        assert e164 not in masked

    def test_mask_picks_the_phone_form_for_the_phone_channel(self):
        assert mask(PHONE, "+966551234567") == "+966 55••••567"


class TestMaskingAnEmail:
    def test_a_long_local_part_shows_its_first_and_last_letters_and_the_domain(self):
        assert mask_email("sara.ahmed@example.com") == "s••••d@example.com"

    def test_the_mask_does_not_tell_how_long_the_local_part_is(self):
        assert mask_email("abcd@example.com") == "a••••d@example.com"
        assert mask_email("abdulrahman.alqahtani@example.com") == "a••••i@example.com"
        assert mask_email("ab@example.com") == mask_email("abc@example.com") == "a•••@example.com"

    @pytest.mark.parametrize(
        ("email", "masked"),
        [
            ("Foo@x.com", "F•••@x.com"),
            ("abc@example.com", "a•••@example.com"),
            ("ab@x", "a•••@x"),
        ],
    )
    def test_a_local_part_of_two_or_three_characters_shows_only_its_first(self, email, masked):
        assert mask_email(email) == masked

    @pytest.mark.parametrize(("email", "masked"), [("a@x", "•••@x"), ("a@example.com", "•••@example.com")])
    def test_a_one_letter_local_part_shows_no_letter(self, email, masked):
        assert mask_email(email) == masked

    @pytest.mark.parametrize(
        "email", ["abc@example.com", "Foo@x.com", "Omar@example.com", "layla.haddad@x.org"]
    )
    def test_a_short_local_part_shows_its_first_character_a_longer_one_its_first_and_last(self, email):
        local = email.rpartition("@")[0]
        shown = mask_email(email).rpartition("@")[0].replace(MASK, "")
        assert shown == (local[0] if len(local) <= 3 else local[0] + local[-1])

    @pytest.mark.parametrize(
        "local",
        [
            "a",
            "ab",
            "abc",
            "sara.ahmed",
            "abdulrahman.alqahtani",
        ],
    )
    def test_the_whole_local_part_is_never_shown(self, local):
        masked_local, _, domain = mask_email(f"{local}@example.com").rpartition("@")
        assert domain == "example.com"
        assert len(masked_local.replace(MASK, "")) < len(local)

    def test_mask_picks_the_email_form_for_the_email_channel(self):
        assert mask(EMAIL, "sara.ahmed@example.com") == "s••••d@example.com"


class TestParsingAPhone:
    @pytest.mark.parametrize(
        "typed",
        [
            "0551234567",  # national with trunk prefix
            "551234567",  # national without it
            "+966551234567",  # international
            "00966551234567",  # international with the exit code
            "055 123 4567",
            "٠٥٥١٢٣٤٥٦٧",  # Arabic-Indic digits
            "۰۵۵۱۲۳۴۵۶۷",  # Extended Arabic-Indic (Persian) digits
        ],
    )
    def test_every_form_of_a_number_becomes_e164(self, typed):
        assert parse_phone(typed, "SA", mobile=True) == "+966551234567"

    def test_a_landline_is_refused_when_the_code_goes_by_sms(self):
        with pytest.raises(InvalidField, match="mobile"):
            parse_phone("0112345678", "SA", mobile=True)

    def test_a_landline_is_accepted_when_it_is_not_the_channel(self):
        assert parse_phone("0112345678", "SA", mobile=False) == "+966112345678"

    @pytest.mark.parametrize("mobile", [True, False])
    def test_a_number_of_another_country_is_refused(self, mobile):
        with pytest.raises(InvalidField, match="for this country"):
            parse_phone("+971501234567", "SA", mobile=mobile)

    def test_the_same_number_is_fine_for_its_own_country(self):
        assert parse_phone("0501234567", "AE", mobile=True) == "+971501234567"

    @pytest.mark.parametrize("typed", ["12345", "not a number", "+", ""])
    def test_something_that_is_not_a_phone_number_is_refused(self, typed):
        with pytest.raises(InvalidField):
            parse_phone(typed, "SA", mobile=False)


class TestCountryKey:
    @pytest.mark.parametrize("key", ["966", "+966", " +966 ", "00966"])
    def test_the_dialling_code_of_the_country_is_accepted_with_plus_or_exit_code_or_neither(self, key):
        check_country_key(key, "SA")

    @pytest.mark.parametrize("key", ["96600", "0971"])
    def test_other_digits_around_the_code_are_another_code(self, key):
        with pytest.raises(InvalidField, match="does not belong"):
            check_country_key(key, "SA")

    def test_a_dialling_code_of_another_country_is_refused(self):
        with pytest.raises(InvalidField, match="does not belong"):
            check_country_key("971", "SA")

    @pytest.mark.parametrize("key", ["", "+", "abc", "9a66", "٩٦٦", "+ 966"])
    def test_a_dialling_code_must_be_ascii_digits(self, key):
        with pytest.raises(InvalidField, match="digits"):
            check_country_key(key, "SA")

    @pytest.mark.parametrize(
        "key",
        [
            pytest.param("966000", id="six digits"),
            pytest.param("+966000", id="six digits after a plus"),
            pytest.param("9" * 5000, id="five thousand digits"),
            pytest.param("0" * 4999 + "966", id="five thousand digits worth 966"),
        ],
    )
    def test_a_dialling_code_of_more_than_five_digits_is_refused_without_reading_it(self, key):
        with pytest.raises(InvalidField, match="digits"):
            check_country_key(key, "SA")

    def test_four_digits_are_still_compared_with_the_country(self):
        with pytest.raises(InvalidField, match="does not belong"):
            check_country_key("1234", "SA")


# Spaces (Zs) and format characters (Cf): a name of only these is an empty one.
INVISIBLE = (
    pytest.param("\u200b", id="zero-width space"),
    pytest.param("\u200c", id="zero-width non-joiner"),
    pytest.param("\u200d", id="zero-width joiner"),
    pytest.param("\u2060", id="word joiner"),
    pytest.param("\ufeff", id="byte order mark"),
    pytest.param("\u00ad", id="soft hyphen"),
    pytest.param("\u200b\u200c\ufeff", id="only invisible characters"),
    pytest.param(" \u200b ", id="an invisible character among spaces"),
    pytest.param("\u200b\u00a0\u3000\u200b", id="no-break and ideographic spaces among them"),
    pytest.param("\u2002\u200b\u2009", id="en and thin spaces around one"),
)


class TestNames:
    def test_a_name_is_trimmed(self):
        assert clean_name("  Sara \t", required=True) == "Sara"

    @pytest.mark.parametrize("value", ["", "   ", "\t\n"])
    def test_an_empty_required_name_is_refused(self, value):
        with pytest.raises(InvalidField, match="empty"):
            clean_name(value, required=True)

    @pytest.mark.parametrize("value", ["", "   "])
    def test_an_empty_optional_name_becomes_none(self, value):
        assert clean_name(value, required=False) is None

    def test_sixty_four_characters_are_allowed_after_trimming(self):
        assert clean_name("  " + "S" * 64 + "  ", required=True) == "S" * 64

    def test_sixty_five_characters_are_too_many(self):
        with pytest.raises(InvalidField, match="64"):
            clean_name("S" * 65, required=True)

    @pytest.mark.parametrize(
        "control",
        ["\x00", "\n", "\t", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"],
    )
    def test_control_characters_inside_a_name_are_refused(self, control):
        with pytest.raises(InvalidField, match="Control characters"):
            clean_name(f"Sa{control}ra", required=True)

    @pytest.mark.parametrize(
        "bidi",
        ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"],
    )
    def test_bidirectional_overrides_and_isolates_are_refused(self, bidi):
        with pytest.raises(InvalidField, match="Control characters"):
            clean_name(f"Sa{bidi}ra", required=False)

    @pytest.mark.parametrize("name", ["سارة", "عبد الله القحطاني", "مهر\u200cناز", "Zoë O'Brien-Łukasz"])
    def test_arabic_persian_and_accented_names_are_kept_as_typed(self, name):
        assert clean_name(name, required=True) == name

    @pytest.mark.parametrize("name", ["S", "ع", "Sara2", "3", "٣", "O'Brien", "-Sara-", "\u200bSara"])
    def test_one_letter_or_digit_is_enough(self, name):
        assert clean_name(name, required=True) == name

    @pytest.mark.parametrize("value", INVISIBLE)
    def test_a_required_name_of_only_spaces_and_format_characters_is_empty(self, value):
        with pytest.raises(InvalidField) as refused:
            clean_name(value, required=True)
        assert str(refused.value) == "This field may not be empty."

    @pytest.mark.parametrize("value", INVISIBLE)
    def test_an_optional_name_of_only_spaces_and_format_characters_becomes_none(self, value):
        assert clean_name(value, required=False) is None

    @pytest.mark.parametrize(
        "name",
        [
            pytest.param("-", id="a hyphen"),
            pytest.param(".", id="a full stop"),
            pytest.param("-'.", id="only punctuation"),
            pytest.param("- -", id="punctuation and spaces"),
            pytest.param("\u064b\u0651", id="only Arabic diacritics"),
            pytest.param("\U0001f642", id="an emoji"),
            pytest.param("\U0001f468\u200d\U0001f469\u200d\U0001f467", id="an emoji joined by ZWJs"),
            pytest.param("\u200b.\u200b", id="a full stop between zero-width spaces"),
        ],
    )
    @pytest.mark.parametrize("required", [True, False])
    def test_a_name_without_a_letter_is_kept_as_typed(self, name, required):
        assert clean_name(name, required=required) == name

    def test_a_name_of_sixty_five_invisible_characters_is_too_long_before_it_is_empty(self):
        with pytest.raises(InvalidField, match="64"):
            clean_name("\u200b" * 65, required=False)

    def test_control_characters_among_invisible_ones_are_refused_not_dropped(self):
        with pytest.raises(InvalidField, match="Control characters"):
            clean_name("\u200b\x00\u200b", required=False)


class TestEmails:
    def test_an_email_is_trimmed_and_its_domain_lower_cased(self):
        email = parse_email("  Omar.Saleh@Example.COM ", check_deliverability=False)
        assert email == "Omar.Saleh@example.com"

    @pytest.mark.parametrize(
        "typed",
        ["not-an-email", "a@b", "broken@", "@example.com", "two@@example.com", "a" * 250 + "@example.com"],
    )
    def test_something_that_is_not_an_email_address_is_refused(self, typed):
        with pytest.raises(InvalidField, match="email"):
            parse_email(typed, check_deliverability=False)
