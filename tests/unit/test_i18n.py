"""What a customer reads, in English and Arabic (app.i18n)."""

import ast
import inspect
import re
from pathlib import Path

import pytest

from app import errors, identity
from app.i18n import translate, translate_errors

APP = Path(identity.__file__).parent
ARABIC_LETTER = re.compile("[\u0621-\u064a]")


def error_classes() -> list[type[errors.RegistrarError]]:
    """RegistrarError and every subclass of it, however deep."""
    found, pending = [], [errors.RegistrarError]
    while pending:
        error_class = pending.pop()
        found.append(error_class)
        pending.extend(error_class.__subclasses__())
    return found


def identity_messages() -> set[str]:
    """The first argument of every `InvalidField(...)` in app/identity.py, evaluated there."""
    tree = ast.parse(inspect.getsource(identity))
    messages = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "InvalidField":
            expression = ast.Expression(node.args[0])
            messages.add(eval(compile(expression, "identity.py", "eval"), vars(identity)))
    return messages


def reported_field_messages() -> set[str]:
    """Messages written out for a field anywhere in app/: in a field error such as
    ValidationError("Required when phone is given.", "country_code"), or as a field's list
    of messages (["Codes cannot be sent by SMS to this country."])."""
    messages = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = isinstance(node, ast.Call) and (
                getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            )
            if called == "ValidationError" and isinstance(node.args[0], ast.Constant):
                messages.add(node.args[0].value)
            if isinstance(node, ast.List) and node.elts and all(_is_message(item) for item in node.elts):
                messages.update(item.value for item in node.elts)
    return messages


def _is_message(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".")


def literal_error_messages() -> set[str]:
    """Messages written out where an error is raised anywhere in app/, such as BadRequest("...")."""
    names = {error_class.__name__ for error_class in error_classes()}
    messages = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            called = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            first = node.args[0]
            if called in names and isinstance(first, ast.Constant) and isinstance(first.value, str):
                messages.add(first.value)
    return messages


def test_the_message_collectors_find_what_they_should():
    assert "Use at most 64 characters." in identity_messages()
    assert len(identity_messages()) >= 9
    assert errors.TooManyResends in error_classes()
    assert "Send the body as application/json." in literal_error_messages()
    assert "Required when country_key is given." in reported_field_messages()
    assert "Codes cannot be sent by SMS to this country." in reported_field_messages()


@pytest.mark.parametrize(
    "message",
    sorted(
        identity_messages()
        | {error_class.message for error_class in error_classes()}
        | literal_error_messages()
        | reported_field_messages()
    ),
)
def test_every_message_the_service_can_produce_has_an_arabic_translation(message):
    arabic = translate(message, "ar")
    assert arabic != message
    assert ARABIC_LETTER.search(arabic)


def test_a_name_needs_no_letter_and_the_message_that_asked_for_one_is_gone():
    assert "Use at least one letter." not in identity_messages()
    assert translate("Use at least one letter.", "ar") == "Use at least one letter."


def test_a_name_of_only_invisible_characters_is_empty_in_arabic_too():
    with pytest.raises(identity.InvalidField) as refused:
        identity.clean_name("\u200b\ufeff", required=True)
    assert translate(str(refused.value), "ar") == "لا يمكن أن يكون هذا الحقل فارغًا."


def test_english_messages_are_answered_as_written():
    assert translate("That code is not correct.", "en") == "That code is not correct."


def test_a_message_without_a_translation_falls_back_to_english():
    assert translate("A message nobody translated.", "ar") == "A message nobody translated."


def test_an_unknown_locale_falls_back_to_english():
    assert translate("That code is not correct.", "fr") == "That code is not correct."


def test_field_errors_are_translated_and_nested_ones_flattened_into_their_field():
    translated = translate_errors(
        {
            "first_name": ["This field may not be empty."],
            "phone": "Not a valid phone number.",
            "events": {0: ["Not a valid string."], 2: {"x": "Something untranslated."}},
        },
        "ar",
    )
    assert translated == {
        "first_name": ["لا يمكن أن يكون هذا الحقل فارغًا."],
        "phone": ["رقم الجوال غير صالح."],
        "events": ["0: يجب أن تكون القيمة نصًا.", "2: x: Something untranslated."],
    }


def test_field_errors_in_english_keep_their_shape():
    assert translate_errors({"code": "Enter every digit of the code we sent, and nothing else."}, "en") == {
        "code": ["Enter every digit of the code we sent, and nothing else."]
    }
