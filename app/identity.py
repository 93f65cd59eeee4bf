"""Phones, emails and names: how they are checked, normalised and masked, for registration
and login alike. Each check raises `InvalidField` with an English message that app.i18n translates."""

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app import errors

PHONE, EMAIL = "phone", "email"
CHANNELS = (PHONE, EMAIL)
NAME_MAX_LENGTH = 64
EMAIL_MAX_LENGTH = 254
MASK = "\u2022"  # •

# Bidirectional overrides and isolates let a name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Spaces and format characters (zero-width joiners, BOMs): a name of only these is empty.
_INVISIBLE = frozenset(("Zs", "Cf"))
_MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def email_key(email: str) -> str:
    """What makes two addresses one identity, on every database: the whole address, Unicode
    case-folded and NFC-normalised (SQL's lower() folds only ASCII on SQLite)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", email).casefold())


@dataclass(frozen=True)
class Contact:
    """Who a code goes to: a phone in E.164 (with its country) or an email; `verified_by` says which."""

    verified_by: str
    phone: str | None = None
    email: str | None = None
    country_code: str | None = None

    @property
    def address(self) -> str:
        """The phone or email the code goes to."""
        return self.phone if self.verified_by == PHONE else self.email


@dataclass(frozen=True)
class ContactPolicy:
    """What the store allows of a contact beyond its form (API.md §6): the countries that
    get SMS (None: all), and whether an email's domain must be seen to accept mail (DNS)."""

    sms_countries: frozenset[str] | None = None
    check_deliverability: bool = False

    def check(self, contact: Contact) -> None:
        """ValidationFailed, naming each field, unless the contact is allowed."""
        problems = {}
        sms_country = contact.country_code if contact.verified_by == PHONE else None
        if sms_country and self.sms_countries is not None and sms_country not in self.sms_countries:
            problems["country_code"] = ["Codes cannot be sent by SMS to this country."]
        if self.check_deliverability and contact.email:
            try:
                parse_email(contact.email, check_deliverability=True)
            except InvalidField as problem:
                problems["email"] = [str(problem)]
        if problems:
            raise errors.ValidationFailed(errors=problems)


class InvalidField(ValueError):
    """A value a customer typed is not acceptable; the message says why, in English."""


def clean_name(value: str, *, required: bool) -> str | None:
    """Trim a name and refuse control characters; an empty optional name becomes None."""
    name = value.strip()
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidField(f"Use at most {NAME_MAX_LENGTH} characters.")
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp", "Cs") or char in _BIDI_CONTROLS for char in name):
        raise InvalidField("Control characters are not allowed.")
    if all(unicodedata.category(char) in _INVISIBLE for char in name):  # and so if it is ""
        if required:
            raise InvalidField("This field may not be empty.")
        return None
    return name


def clean_country_code(value: str) -> str:
    """An ISO 3166-1 alpha-2 code that has a telephone numbering plan, upper-cased."""
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidField("Not a known ISO 3166-1 alpha-2 country code.")
    return code


def check_country_key(value: str, country_code: str) -> None:
    """The dialling code (`966`, `+966` or `00966`) must be the one of `country_code`."""
    key = value.strip().removeprefix("+")
    if not key.isascii() or not key.isdigit() or len(key) > 5:
        raise InvalidField("Use the dialling code in digits, such as 966 or +966.")
    key = key.lstrip("0") or "0"  # 00966, the international call prefix, means +966
    if int(key) != phonenumbers.country_code_for_region(country_code):
        raise InvalidField("This dialling code does not belong to the country.")


@lru_cache(maxsize=1024)  # a schema checks a number, then normalises it: one parse
def parse_phone(value: str, country_code: str, *, mobile: bool) -> str:
    """Parse a national or international number of `country_code`; return it as E.164."""
    try:
        number = phonenumbers.parse(value, country_code)
    except phonenumbers.NumberParseException:
        raise InvalidField("Not a valid phone number.") from None
    if not phonenumbers.is_valid_number_for_region(number, country_code):
        raise InvalidField("Not a valid phone number for this country.")
    if mobile and phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidField("Use a mobile number: the code is sent by SMS.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_email(value: str, *, check_deliverability: bool) -> str:
    """Validate an email address and return its normalised form."""
    if len(value) > EMAIL_MAX_LENGTH:
        raise InvalidField("Not a valid email address.")
    try:
        return validate_email(value.strip(), check_deliverability=check_deliverability).normalized
    except EmailNotValidError:
        raise InvalidField("Not a valid email address.") from None


def mask(channel: str, address: str) -> str:
    """Enough of a phone or email for its owner to recognise it, and no more."""
    return mask_phone(address) if channel == PHONE else mask_email(address)


def mask_phone(e164: str) -> str:
    """`+966551234567` → `+966 55••••567`."""
    digits = e164.removeprefix("+")
    # Country calling codes are prefix-free, so the first known prefix is the one.
    length = next(
        (size for size in (1, 2, 3) if int(digits[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE), 3
    )
    country, national = digits[:length], digits[length:]
    # Shorter numbers show fewer digits, so that what is shown never identifies them.
    head = 2 if len(national) >= 9 else 1 if len(national) >= 7 else 0
    tail = 3 if len(national) >= 8 else 2
    hidden = max(1, len(national) - head - tail)
    return f"+{country} {national[:head]}{MASK * hidden}{national[len(national) - tail :]}"


def mask_email(email: str) -> str:
    """`sara.ahmed@example.com` → `s••••d@example.com`."""
    local, _, domain = email.rpartition("@")
    if len(local) <= 3:
        shown = local[0] if len(local) > 1 else ""
        return f"{shown}{MASK * 3}@{domain}"
    return f"{local[0]}{MASK * 4}{local[-1]}@{domain}"
