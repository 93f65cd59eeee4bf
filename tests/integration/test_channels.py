"""The channels against real peers: aiosmtpd for email, a local HTTP server for SMS."""

import base64
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from app.channels import DeliveryFailed, create_senders
from app.channels.courier import BackgroundCourier, Courier
from app.channels.http_sms import HttpSmsSender, TwilioSender
from app.channels.messages import code_message
from app.channels.smtp import SmtpSender
from config.settings import Config, ConfigError
from tests.servers import Gateway, SmtpServer, self_signed_certificate

PHONE = "+966551234567"
EMAIL = "sara@example.com"


def sms(locale="en", webotp_domain=None):
    return code_message(
        "phone", "482913", locale=locale, store="Souq", minutes_left=5, webotp_domain=webotp_domain
    )


def email(locale="en"):
    return code_message("email", "482913", locale=locale, store="Souq", minutes_left=5)


def tls_server(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A self-signed certificate for localhost and 127.0.0.1, and a server context using it."""
    cert, key = self_signed_certificate(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


def smtp_config(port: int, **settings: str) -> Config:
    return Config.load(
        {
            "EMAIL_CHANNEL": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "SMTP_STARTTLS": "false",
            "MAIL_FROM": "Souq <no-reply@souq.example>",
            "CHANNEL_TIMEOUT": "2",
            **settings,
        }
    )


class TestSmtp:
    def test_a_code_arrives_with_sender_recipient_subject_and_both_parts(self):
        server = SmtpServer()
        try:
            SmtpSender.create_service(smtp_config(server.port)).send(EMAIL, email())
        finally:
            server.stop()

        [mail] = server.inbox
        assert mail.mail_from == "no-reply@souq.example"
        assert mail.rcpt_tos == [EMAIL]
        assert mail.message["From"] == "Souq <no-reply@souq.example>"
        assert mail.message["To"] == EMAIL
        assert mail.message["Subject"] == "482913 is your Souq code"
        assert mail.message["Message-ID"].endswith("@souq.example>")
        text, html = mail.part("text/plain"), mail.part("text/html")
        assert "482913" in text and "5 min" in text and "Souq" in text
        assert "482913" in html and 'lang="en"' in html

    def test_an_arabic_code_is_written_in_arabic_right_to_left(self):
        server = SmtpServer()
        try:
            SmtpSender.create_service(smtp_config(server.port)).send(EMAIL, email("ar"))
        finally:
            server.stop()

        [mail] = server.inbox
        assert mail.message["Subject"] == "رمز التحقق في Souq: 482913"
        assert "رمز التحقق الخاص بك في Souq هو 482913" in mail.part("text/plain")
        assert "5 دقائق" in mail.part("text/plain")
        html = mail.part("text/html")
        assert 'dir="rtl"' in html and 'lang="ar"' in html and "482913" in html

    def test_html_in_the_store_name_is_escaped_in_the_html_part(self):
        server = SmtpServer()
        message = code_message("email", "482913", locale="en", store="<b>Souq</b>", minutes_left=5)
        try:
            SmtpSender.create_service(smtp_config(server.port)).send(EMAIL, message)
        finally:
            server.stop()
        html = server.inbox[0].part("text/html")
        assert "<b>Souq</b>" not in html
        assert "&lt;b&gt;Souq&lt;/b&gt;" in html

    def test_starttls_and_login(self, tmp_path, monkeypatch):
        cert, key = self_signed_certificate(tmp_path)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # how an operator trusts a private CA
        server = SmtpServer(login=("mailer", "s3cret"), starttls=server_tls)
        config = smtp_config(
            server.port,
            SMTP_HOST="localhost",
            SMTP_STARTTLS="true",
            SMTP_USER="mailer",
            SMTP_PASSWORD="s3cret",
        )
        try:
            SmtpSender.create_service(config).send(EMAIL, email())
        finally:
            server.stop()

        assert server.authenticator.logins == ["mailer"]
        assert len(server.inbox) == 1

    def test_implicit_tls(self, tmp_path, monkeypatch):
        cert, key = self_signed_certificate(tmp_path)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        server = SmtpServer(implicit_tls=server_tls)
        config = smtp_config(server.port, SMTP_HOST="localhost", SMTP_STARTTLS="", SMTP_SSL="true")
        try:
            SmtpSender.create_service(config).send(EMAIL, email())
        finally:
            server.stop()
        assert len(server.inbox) == 1

    def test_a_server_whose_certificate_is_not_trusted_is_not_sent_to(self, tmp_path):
        cert, key = self_signed_certificate(tmp_path)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        server = SmtpServer(starttls=server_tls)
        try:
            with pytest.raises(DeliveryFailed):
                SmtpSender.create_service(smtp_config(server.port, SMTP_STARTTLS="true")).send(EMAIL, email())
        finally:
            server.stop()
        assert server.inbox == []

    def test_a_wrong_password_is_a_failed_delivery(self, tmp_path):
        server = SmtpServer(login=("mailer", "s3cret"))
        config = smtp_config(server.port, SMTP_USER="mailer", SMTP_PASSWORD="wrong")
        try:
            with pytest.raises(DeliveryFailed):
                SmtpSender.create_service(config).send(EMAIL, email())
        finally:
            server.stop()
        assert server.inbox == []

    def test_a_refused_connection_is_a_failed_delivery(self, gateway):
        port = int(gateway.url.rsplit(":", 1)[1])
        gateway.stop()
        with pytest.raises(DeliveryFailed):
            SmtpSender.create_service(smtp_config(port)).send(EMAIL, email())

    def test_a_server_that_never_greets_fails_within_the_timeout(self):
        silent = Gateway(hang=True)  # accepts the connection and says nothing
        port = int(silent.url.rsplit(":", 1)[1])
        began = time.monotonic()
        try:
            with pytest.raises(DeliveryFailed):
                SmtpSender.create_service(smtp_config(port, CHANNEL_TIMEOUT="1")).send(EMAIL, email())
        finally:
            silent.stop()
        assert time.monotonic() - began < 10, "bounded by the timeout, not hanging"

    @pytest.mark.parametrize(
        ("settings", "named"),
        [
            ({"SMTP_HOST": ""}, "SMTP_HOST"),
            ({"MAIL_FROM": ""}, "MAIL_FROM"),
            ({"SMTP_USER": "mailer"}, "SMTP_PASSWORD"),
        ],
    )
    def test_missing_settings_are_named_at_start_up(self, settings, named):
        with pytest.raises(ConfigError, match=named):
            create_senders(smtp_config(25, **settings))


class TestHttpGateway:
    def config(self, gateway, **settings):
        return Config.load(
            {
                "SMS_CHANNEL": "http",
                "SMS_HTTP_URL": f"{gateway.url}/sms",
                "SMS_HTTP_TOKEN": "gw-token",
                "CHANNEL_TIMEOUT": "1",
                **settings,
            }
        )

    def test_the_sms_is_posted_as_json_with_the_bearer_token(self, gateway):
        HttpSmsSender.create_service(self.config(gateway)).send(PHONE, sms())

        [request] = gateway.requests
        assert request.path == "/sms"
        assert request.headers["Authorization"] == "Bearer gw-token"
        assert request.headers["Content-Type"] == "application/json"
        assert request.json() == {
            "to": PHONE,
            "body": "482913 is your Souq code. It expires in 5 min. Don't share it.",
        }

    def test_credentials_in_the_url_are_sent_as_basic_auth(self, gateway):
        url = gateway.url.replace("http://", "http://user:s%3Dcret@") + "/sms"
        HttpSmsSender.create_service(self.config(gateway, SMS_HTTP_URL=url, SMS_HTTP_TOKEN="")).send(
            PHONE, sms()
        )

        assert gateway.requests[0].headers["Authorization"] == "Basic dXNlcjpzPWNyZXQ="

    def test_the_proxy_the_environment_names_carries_the_sms(self, gateway, monkeypatch):
        monkeypatch.setenv("HTTP_PROXY", gateway.url)  # the double answers as a forwarding proxy would
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        config = self.config(gateway, SMS_HTTP_URL="http://sms-gateway.example/send")

        HttpSmsSender.create_service(config).send(PHONE, sms())

        [request] = gateway.requests
        assert request.path == "http://sms-gateway.example/send", "a proxy is asked for the whole URL"
        assert request.json()["to"] == PHONE

    def test_a_host_no_proxy_covers_is_reached_directly(self, gateway, monkeypatch):
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:1")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")

        HttpSmsSender.create_service(self.config(gateway)).send(PHONE, sms())

        assert gateway.requests[0].path == "/sms"

    def test_an_arabic_sms_with_the_webotp_line(self, gateway):
        HttpSmsSender.create_service(self.config(gateway)).send(
            PHONE, sms("ar", webotp_domain="souq.example")
        )

        body = gateway.requests[0].json()["body"]
        assert body.startswith("رمز التحقق في Souq: 482913")
        assert body.splitlines()[-1] == "@souq.example #482913"

    @pytest.mark.parametrize("status", [500, 503, 400, 401, 302])
    def test_an_answer_other_than_2xx_is_a_failed_delivery(self, gateway, status):
        gateway.status = status
        with pytest.raises(DeliveryFailed, match=str(status)):
            HttpSmsSender.create_service(self.config(gateway)).send(PHONE, sms())
        assert len(gateway.requests) == 1, "a redirect is not followed"

    def test_a_refused_connection_is_a_failed_delivery(self, gateway):
        config = self.config(gateway)
        gateway.stop()
        with pytest.raises(DeliveryFailed):
            HttpSmsSender.create_service(config).send(PHONE, sms())

    def test_a_gateway_that_hangs_fails_within_the_timeout(self, gateway):
        gateway.hang = True
        began = time.monotonic()
        with pytest.raises(DeliveryFailed) as failure:
            HttpSmsSender.create_service(self.config(gateway)).send(PHONE, sms())
        assert time.monotonic() - began < 10, "bounded by the timeout, not hanging"
        assert str(failure.value) == "127.0.0.1: ReadTimeoutError", "the host, never the number"

    def test_an_https_gateway_trusted_through_ssl_cert_file_is_sent_to(self, tmp_path, monkeypatch):
        cert, server_tls = tls_server(tmp_path)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # how an operator trusts a private CA
        gateway = Gateway(tls=server_tls)
        try:
            HttpSmsSender.create_service(self.config(gateway)).send(PHONE, sms())
        finally:
            gateway.stop()
        assert len(gateway.requests) == 1

    def test_a_gateway_whose_certificate_is_not_trusted_is_not_sent_to(self, tmp_path):
        _cert, server_tls = tls_server(tmp_path)
        gateway = Gateway(tls=server_tls)
        try:
            with pytest.raises(DeliveryFailed, match="SSLError"):
                HttpSmsSender.create_service(self.config(gateway)).send(PHONE, sms())
        finally:
            gateway.stop()
        assert gateway.requests == []

    @pytest.mark.parametrize("url", ["", "ftp://gateway/sms", "not a url"])
    def test_a_missing_or_odd_url_is_refused_at_start_up(self, url):
        with pytest.raises(ConfigError, match="SMS_HTTP_URL"):
            create_senders(Config.load({"SMS_CHANNEL": "http", "SMS_HTTP_URL": url}))


class TestTwilio:
    def config(self, gateway, **settings):
        return Config.load(
            {
                "SMS_CHANNEL": "twilio",
                "TWILIO_ACCOUNT_SID": "AC123",
                "TWILIO_AUTH_TOKEN": "twilio-token",
                "TWILIO_FROM": "+15005550006",
                "TWILIO_API_BASE": gateway.url,
                "CHANNEL_TIMEOUT": "1",
                **settings,
            }
        )

    def test_a_message_is_created_with_basic_auth_and_a_form_body(self, gateway):
        gateway.status = 201
        TwilioSender.create_service(self.config(gateway)).send(PHONE, sms("ar"))

        [request] = gateway.requests
        assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
        assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:twilio-token").decode()
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = parse_qs(request.body.decode())
        assert form["To"] == [PHONE]
        assert form["From"] == ["+15005550006"]
        assert form["Body"][0].startswith("رمز التحقق في Souq: 482913")

    def test_a_refusal_is_a_failed_delivery(self, gateway):
        gateway.status = 400
        with pytest.raises(DeliveryFailed, match="400"):
            TwilioSender.create_service(self.config(gateway)).send(PHONE, sms())

    def test_missing_settings_are_named_at_start_up(self):
        with pytest.raises(ConfigError, match="TWILIO_AUTH_TOKEN, TWILIO_FROM"):
            create_senders(Config.load({"SMS_CHANNEL": "twilio", "TWILIO_ACCOUNT_SID": "AC123"}))


class TestSignInCodesInTheBackground:
    """Sign-in codes leave through BackgroundCourier: a flood is bounded, a stale code dropped."""

    def courier(self, gateway: Gateway, *, code_ttl: int, max_queued: int) -> BackgroundCourier:
        sender = HttpSmsSender.create_service(TestHttpGateway().config(gateway, CHANNEL_TIMEOUT="5"))
        courier = Courier({"phone": sender}, "Registrar", code_ttl, None)
        return BackgroundCourier(courier, ThreadPoolExecutor(1), max_queued=max_queued)

    def test_codes_beyond_the_queue_are_dropped_instead_of_piling_up(self, gateway, caplog):
        gateway.delay = 0.3
        background = self.courier(gateway, code_ttl=300, max_queued=2)

        for _ in range(5):
            background.send_code("phone", PHONE, "123456", "en")
        background.close()

        assert len(gateway.requests) == 2
        assert caplog.text.count("sign-in codes are on their way already") == 3
        assert PHONE not in caplog.text

    def test_a_code_that_expired_while_it_waited_is_not_sent(self, gateway, caplog):
        gateway.delay = 2.5  # the first code holds the only sender well past the second's expiry
        background = self.courier(gateway, code_ttl=1, max_queued=10)

        background.send_code("phone", PHONE, "111111", "en")
        background.send_code("phone", PHONE, "222222", "en")
        background.close()

        [sent] = gateway.requests
        assert "111111" in sent.json()["body"]
        assert "expired before a sender was free" in caplog.text
