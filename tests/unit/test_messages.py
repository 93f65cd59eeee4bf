"""The texts that carry a code: one SMS segment where the words allow, both languages."""

import pytest

from app.channels.messages import code_message, minutes, sms_segments, sms_text


class TestSegments:
    @pytest.mark.parametrize(("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3)])
    def test_gsm7_text_takes_160_characters_then_153_per_segment(self, length, segments):
        assert sms_segments("a" * length) == segments

    def test_gsm7_extension_characters_count_twice(self):
        assert sms_segments("€" * 80) == 1
        assert sms_segments("€" * 81) == 2

    @pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
    def test_arabic_is_ucs2_of_70_then_67_per_segment(self, length, segments):
        assert sms_segments("ع" * length) == segments

    def test_one_character_outside_gsm7_makes_the_whole_text_ucs2(self):
        assert sms_segments("a" * 69 + "ع") == 1
        assert sms_segments("a" * 70 + "ع") == 2


class TestSms:
    @pytest.mark.parametrize("locale", ["en", "ar"])
    @pytest.mark.parametrize("webotp_domain", [None, "shop.example.com"])
    def test_the_usual_message_fits_one_segment(self, locale, webotp_domain):
        text = sms_text(
            "482913", locale=locale, store="Registrar", minutes_left=5, webotp_domain=webotp_domain
        )
        assert "482913" in text
        assert sms_segments(text) == 1

    def test_the_fullest_wording_is_sent_when_it_fits(self):
        text = sms_text("482913", locale="en", store="Souq", minutes_left=5, webotp_domain=None)
        assert text == "482913 is your Souq code. It expires in 5 min. Don't share it."

    def test_a_long_store_name_gets_a_shorter_wording_still_in_one_segment(self):
        store = "The Very Long Name Of A Store That Sells Everything Under The Sun, Moon And Stars Too"
        text = sms_text("482913", locale="en", store=store, minutes_left=5, webotp_domain="shop.example.com")
        assert sms_segments(text) == 1
        assert "Don't share it" not in text
        assert text.startswith(f"482913 is your {store} code. It expires in 5 min.")

    def test_when_nothing_fits_the_barest_wording_is_sent(self):
        text = sms_text("482913", locale="ar", store="متجر" * 30, minutes_left=5, webotp_domain=None)
        assert text == "رمز التحقق: 482913"

    def test_the_webotp_line_is_the_last_line_after_a_blank_one(self):
        text = sms_text("482913", locale="ar", store="Souq", minutes_left=5, webotp_domain="souq.example")
        lines = text.split("\n")
        assert lines[-2:] == ["", "@souq.example #482913"]

    def test_without_a_webotp_domain_there_is_no_webotp_line(self):
        text = sms_text("482913", locale="en", store="Souq", minutes_left=5, webotp_domain=None)
        assert "@" not in text and "#" not in text


@pytest.mark.parametrize(
    ("count", "arabic"),
    [
        (1, "دقيقة واحدة"),
        (2, "دقيقتين"),
        (3, "3 دقائق"),
        (10, "10 دقائق"),
        (11, "11 دقيقة"),
        (30, "30 دقيقة"),
    ],
)
def test_arabic_minutes_agree_with_their_number(count, arabic):
    assert minutes(count, "ar") == arabic
    assert minutes(count, "en") == f"{count} min"


class TestEmail:
    def test_the_code_is_in_the_subject_and_both_parts(self):
        message = code_message("email", "482913", locale="en", store="Souq", minutes_left=10)
        assert message.subject == "482913 is your Souq code"
        assert "482913" in message.text and "10 min" in message.text
        assert "482913" in message.html and "<html" in message.html

    def test_arabic_email_is_arabic_and_right_to_left(self):
        message = code_message("email", "482913", locale="ar", store="Souq", minutes_left=5)
        assert message.subject == "رمز التحقق في Souq: 482913"
        assert "5 دقائق" in message.text
        assert 'dir="rtl"' in message.html

    def test_the_store_name_cannot_inject_html(self):
        message = code_message(
            "email", "482913", locale="en", store='<img src=x onerror="alert(1)">', minutes_left=5
        )
        assert "<img" not in message.html
        assert "&lt;img" in message.html

    def test_an_sms_has_no_subject_or_html(self):
        message = code_message("phone", "482913", locale="en", store="Souq", minutes_left=5)
        assert message.subject is None and message.html is None
