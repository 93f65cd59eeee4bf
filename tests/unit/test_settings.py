"""Configuration read from the environment and checked at start-up (config.settings, API.md §6)."""

import pytest
from limits import parse_many

from app.channels import create_senders
from config.settings import ROOT, Config, ConfigError

GOOD_SECRET = "s" * 32
CONTRACT_DEFAULTS = {
    "DATABASE_URL": f"sqlite:///{ROOT / 'instance' / 'registrar.db'}",
    "REDIS_URL": None,
    "PORT": 8000,
    "ADMIN_API_KEY": None,
    "SECRET_KEY": None,
    "JWT_PRIVATE_KEY": None,
    "JWT_ISSUER": "registrar",
    "JWT_AUDIENCE": "storefront",
    "ACCESS_TOKEN_TTL": 900,
    "REFRESH_TOKEN_TTL": 2592000,
    "EMAIL_CHECK_DELIVERABILITY": False,
    "SMS_CHANNEL": "console",
    "EMAIL_CHANNEL": "console",
    "STORE_NAME": "Registrar",
    "WEBOTP_DOMAIN": None,
    "OTP_LENGTH": 6,
    "OTP_TTL": 300,
    "OTP_MAX_ATTEMPTS": 5,
    "RESEND_COOLDOWN": 60,
    "MAX_RESENDS": 3,
    "REGISTRATION_TTL": 1800,
    "REVEAL_EXISTING_ACCOUNTS": False,
    "SMS_ALLOWED_COUNTRIES": None,
    "MAX_CODES_PER_DESTINATION": 5,
    "SMS_PREFIX_HOURLY_LIMIT": 20,
    "SMS_COUNTRY_HOURLY_LIMIT": 1000,
    "WEBHOOK_RETRY_SCHEDULE": (5, 300, 1800, 7200, 18000, 36000, 36000),
    "WEBHOOK_ALLOW_PRIVATE_URLS": False,
    "DEFAULT_LOCALE": "en",
    "RATE_LIMIT_REGISTER": parse_many("20/minute"),
    "TRUSTED_PROXIES": 0,
    "CORS_ORIGINS": (),
}


def test_the_defaults_are_those_of_the_contract():
    config = Config.load({})

    defaults = {name: getattr(config, name) for name in CONTRACT_DEFAULTS}

    assert defaults == CONTRACT_DEFAULTS


def test_the_default_database_lives_in_the_instance_folder_that_is_given():
    database_url = Config.load({"INSTANCE_PATH": "/srv/registrar/instance"}).DATABASE_URL
    assert database_url == "sqlite:////srv/registrar/instance/registrar.db"


def test_an_empty_variable_means_the_default():
    config = Config.load({"OTP_LENGTH": "", "DEFAULT_LOCALE": "  ", "REDIS_URL": ""})
    assert (config.OTP_LENGTH, config.DEFAULT_LOCALE, config.REDIS_URL) == (6, "en", None)


def test_values_are_parsed_into_their_types():
    config = Config.load(
        {
            "OTP_LENGTH": " 8 ",
            "REVEAL_EXISTING_ACCOUNTS": "yes",
            "EMAIL_CHECK_DELIVERABILITY": "1",
            "SMS_ALLOWED_COUNTRIES": "sa, ae",
            "WEBHOOK_RETRY_SCHEDULE": "5,60",
            "DEFAULT_LOCALE": "AR",
            "RATE_LIMIT_REGISTER": "20/minute;500 per hour",
            "CORS_ORIGINS": "https://shop.example, https://www.shop.example",
        }
    )
    expected = {
        "OTP_LENGTH": 8,
        "REVEAL_EXISTING_ACCOUNTS": True,
        "EMAIL_CHECK_DELIVERABILITY": True,
        "SMS_ALLOWED_COUNTRIES": {"SA", "AE"},
        "WEBHOOK_RETRY_SCHEDULE": (5, 60),
        "DEFAULT_LOCALE": "ar",
        "RATE_LIMIT_REGISTER": parse_many("20 per minute; 500/hour"),
        "CORS_ORIGINS": ("https://shop.example", "https://www.shop.example"),
    }

    assert {name: getattr(config, name) for name in expected} == expected


def test_all_countries_may_be_named_explicitly():
    assert Config.load({"SMS_ALLOWED_COUNTRIES": "all"}).SMS_ALLOWED_COUNTRIES is None


def test_every_country_may_be_named_with_a_star_as_the_contract_writes_it():
    assert Config.load({"SMS_ALLOWED_COUNTRIES": " * "}).SMS_ALLOWED_COUNTRIES is None


def test_a_refused_country_list_names_both_ways_of_saying_every_country():
    with pytest.raises(ConfigError) as refused:
        Config.load({"SMS_ALLOWED_COUNTRIES": "SA,XYZ"})
    assert str(refused.value) == (
        "SMS_ALLOWED_COUNTRIES must be 'all', '*' or comma-separated ISO 3166-1 alpha-2 codes, not 'SA,XYZ'"
    )


def test_allowed_countries_are_regions_with_a_numbering_plan_in_any_case():
    allowed = Config.load({"SMS_ALLOWED_COUNTRIES": " gb,Sa , AE,bh,kw,om,qa,eg "}).SMS_ALLOWED_COUNTRIES
    assert allowed == {"GB", "SA", "AE", "BH", "KW", "OM", "QA", "EG"}


@pytest.mark.parametrize("value", ["XX", "SA,XX", "UK", "EU", "ZZ", "001", "S", "SAU", "S1"])
def test_a_country_phonenumbers_does_not_know_is_refused_naming_it(value):
    with pytest.raises(ConfigError, match="SMS_ALLOWED_COUNTRIES") as refused:
        Config.load({"SMS_ALLOWED_COUNTRIES": value})
    assert repr(value) in str(refused.value)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"OTP_LENGTH": "5"}, "OTP_LENGTH"),
        ({"OTP_LENGTH": "11"}, "OTP_LENGTH"),
        ({"OTP_LENGTH": "six"}, "OTP_LENGTH"),
        ({"OTP_TTL": "0"}, "OTP_TTL"),
        ({"OTP_MAX_ATTEMPTS": "0"}, "OTP_MAX_ATTEMPTS"),
        ({"REVEAL_EXISTING_ACCOUNTS": "maybe"}, "REVEAL_EXISTING_ACCOUNTS"),
        ({"DEFAULT_LOCALE": "fr"}, "DEFAULT_LOCALE"),
        ({"SMS_ALLOWED_COUNTRIES": "SA,XYZ"}, "SMS_ALLOWED_COUNTRIES"),
        ({"SMS_ALLOWED_COUNTRIES": ","}, "SMS_ALLOWED_COUNTRIES"),
        ({"REGISTRATION_TTL": "299", "OTP_TTL": "300"}, "REGISTRATION_TTL"),
        ({"REGISTRATION_TTL": "100"}, "REGISTRATION_TTL"),
        ({"SECRET_KEY": "s" * 31}, "SECRET_KEY"),
        ({"WEBHOOK_RETRY_SCHEDULE": "5,x"}, "WEBHOOK_RETRY_SCHEDULE"),
        ({"WEBHOOK_RETRY_SCHEDULE": "5,-1"}, "WEBHOOK_RETRY_SCHEDULE"),
        ({"RATE_LIMIT_REGISTER": "lots"}, "RATE_LIMIT_REGISTER"),
        ({"RATE_LIMIT_REGISTER": "20/minute;lots"}, "RATE_LIMIT_REGISTER"),
        ({"PORT": "70000"}, "PORT"),
        ({"REGISTRAR_ENV": "staging"}, "REGISTRAR_ENV"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(settings, named):
    with pytest.raises(ConfigError, match=named):
        Config.load(settings)


def test_a_registration_may_live_exactly_as_long_as_its_code():
    assert Config.load({"REGISTRATION_TTL": "300", "OTP_TTL": "300"}).REGISTRATION_TTL == 300


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgres://registrar:pw@db:5432/registrar", "postgresql+psycopg://registrar:pw@db:5432/registrar"),
        ("postgresql://registrar@db/registrar", "postgresql+psycopg://registrar@db/registrar"),
        ("postgresql+psycopg://registrar@db/registrar", "postgresql+psycopg://registrar@db/registrar"),
        ("sqlite:////var/lib/registrar.db", "sqlite:////var/lib/registrar.db"),
    ],
)
def test_postgresql_urls_use_the_psycopg_3_driver(given, used):
    database_url = Config.load({"DATABASE_URL": given}).DATABASE_URL
    assert database_url == used


@pytest.mark.parametrize(
    "url",
    [
        "garbage://x",
        "notaurl",
        "postgresql+nosuchdriver://registrar@db/registrar",
        "postgresql://registrar@db:notaport/registrar",
        "postgres//registrar@db/registrar",
    ],
)
def test_a_database_url_sqlalchemy_cannot_read_is_refused_naming_database_url(url):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Config.load({"DATABASE_URL": url})


@pytest.mark.parametrize(
    "url",
    [
        "redis://cache:6379/0",
        "redis://:secret@cache:6379/3",
        "rediss://cache.example:6380",
        "unix:///run/redis/redis.sock",
        "Redis://cache:6379/0",
    ],
)
def test_a_redis_unix_socket_or_tls_url_is_accepted(url):
    config = Config.load({"REDIS_URL": url})
    assert url == config.REDIS_URL


@pytest.mark.parametrize(
    "url",
    ["notaurl", "cache:6379", "localhost", "http://cache:6379", "//cache:6379", "tcp://cache:6379"],
)
def test_a_redis_url_of_another_scheme_is_refused_naming_redis_url(url):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Config.load({"REDIS_URL": url})


PRODUCTION_REQUIRES = ("SECRET_KEY", "JWT_PRIVATE_KEY", "DATABASE_URL", "REDIS_URL")
# Config does not check channel names against the registry (create_senders does), so any
# name but console gets past production's console check.
REAL_CHANNELS = {"SMS_CHANNEL": "some-sms-gateway", "EMAIL_CHANNEL": "some-mail-relay"}
PRODUCTION = {
    "REGISTRAR_ENV": "production",
    "SECRET_KEY": GOOD_SECRET,
    "JWT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----",
    "DATABASE_URL": "postgresql://registrar@db/registrar",
    "REDIS_URL": "redis://cache:6379/0",
    "SMS_ALLOWED_COUNTRIES": "SA,AE",
    **REAL_CHANNELS,
}


class TestProduction:
    def test_production_refuses_to_start_without_its_secrets_and_servers_naming_each(self):
        with pytest.raises(ConfigError) as refused:
            Config.load({"REGISTRAR_ENV": "production", **REAL_CHANNELS})
        assert all(name in str(refused.value) for name in PRODUCTION_REQUIRES)

    def test_production_refuses_the_default_console_channels(self):
        settings = {name: value for name, value in PRODUCTION.items() if name not in REAL_CHANNELS}
        with pytest.raises(ConfigError) as refused:
            Config.load(settings)
        assert str(refused.value) == (
            "SMS_CHANNEL=console writes every code to the log: REGISTRAR_ENV=production needs a real channel"
        )

    @pytest.mark.parametrize("variable", ["SMS_CHANNEL", "EMAIL_CHANNEL"])
    @pytest.mark.parametrize("console", ["console", "Console", " CONSOLE "])
    def test_production_refuses_a_console_channel_named_in_any_case(self, variable, console):
        with pytest.raises(ConfigError) as refused:
            Config.load({**PRODUCTION, variable: console})
        assert str(refused.value) == (
            f"{variable}=console writes every code to the log: REGISTRAR_ENV=production needs a real channel"
        )

    def test_a_console_channel_is_refused_before_the_missing_secrets_are_listed(self):
        with pytest.raises(ConfigError, match="SMS_CHANNEL=console"):
            Config.load({"REGISTRAR_ENV": "production"})

    def test_development_keeps_the_console_channels(self):
        config = Config.load({"SMS_CHANNEL": "console", "EMAIL_CHANNEL": "console"})
        assert (config.SMS_CHANNEL, config.EMAIL_CHANNEL) == ("console", "console")

    @pytest.mark.parametrize("missing", PRODUCTION_REQUIRES)
    def test_production_names_only_what_is_missing(self, missing):
        with pytest.raises(ConfigError) as refused:
            Config.load({**PRODUCTION, missing: ""})
        assert [name for name in PRODUCTION_REQUIRES if name in str(refused.value)] == [missing]

    def test_production_starts_with_everything_set(self):
        assert Config.load(PRODUCTION).ENVIRONMENT == "production"


# Each unsafe setting production refuses (API.md §6, issue #13 items 2 and 7): the settings,
# and the variable the one-line refusal names (and that ALLOW_INSECURE may keep).
UNSAFE = {
    "rate-limits-off": ({"RATE_LIMITS_ENABLED": "false"}, "RATE_LIMITS_ENABLED"),
    "private-webhooks": ({"WEBHOOK_ALLOW_PRIVATE_URLS": "true"}, "WEBHOOK_ALLOW_PRIVATE_URLS"),
    "no-sms-countries": ({"SMS_ALLOWED_COUNTRIES": ""}, "SMS_ALLOWED_COUNTRIES"),
    "plain-http-gateway": (
        {"SMS_CHANNEL": "http", "SMS_HTTP_URL": "http://sms.example/send"},
        "SMS_HTTP_URL",
    ),
    "plain-http-twilio": ({"TWILIO_API_BASE": "HTTP://api.twilio.example"}, "TWILIO_API_BASE"),
    "smtp-login-in-clear": (
        {"EMAIL_CHANNEL": "smtp", "SMTP_USER": "mailer", "SMTP_STARTTLS": "false"},
        "SMTP_STARTTLS",
    ),
}


class TestProductionRefusesUnsafeSettings:
    @pytest.mark.parametrize(("unsafe", "variable"), UNSAFE.values(), ids=list(UNSAFE))
    def test_an_unsafe_setting_is_refused_in_one_line_naming_its_variable(self, unsafe, variable):
        with pytest.raises(ConfigError) as refused:
            Config.load({**PRODUCTION, **unsafe})
        message = str(refused.value)
        assert message.startswith(variable) and "\n" not in message
        assert f"ALLOW_INSECURE={variable}" in message

    @pytest.mark.parametrize(("unsafe", "variable"), UNSAFE.values(), ids=list(UNSAFE))
    def test_allow_insecure_keeps_that_one_setting_on_purpose(self, unsafe, variable):
        config = Config.load({**PRODUCTION, **unsafe, "ALLOW_INSECURE": variable.lower()})
        assert (variable,) == config.ALLOW_INSECURE

    @pytest.mark.parametrize(("unsafe", "variable"), UNSAFE.values(), ids=list(UNSAFE))
    def test_development_keeps_every_such_setting(self, unsafe, variable):
        assert Config.load(unsafe).ENVIRONMENT == "development"

    def test_allow_insecure_keeps_only_what_it_names(self):
        both = {"RATE_LIMITS_ENABLED": "false", "WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
        with pytest.raises(ConfigError, match=r"^WEBHOOK_ALLOW_PRIVATE_URLS"):
            Config.load({**PRODUCTION, **both, "ALLOW_INSECURE": "RATE_LIMITS_ENABLED"})
        allowed = "RATE_LIMITS_ENABLED, WEBHOOK_ALLOW_PRIVATE_URLS"
        assert Config.load({**PRODUCTION, **both, "ALLOW_INSECURE": allowed}).ALLOW_INSECURE == (
            "RATE_LIMITS_ENABLED",
            "WEBHOOK_ALLOW_PRIVATE_URLS",
        )

    @pytest.mark.parametrize("environment", ["production", "development"])
    def test_an_unknown_name_in_allow_insecure_is_itself_refused(self, environment):
        with pytest.raises(ConfigError) as refused:
            Config.load({**PRODUCTION, "REGISTRAR_ENV": environment, "ALLOW_INSECURE": "RATE_LIMIT_ENABLED"})
        assert str(refused.value).startswith("ALLOW_INSECURE may name RATE_LIMITS_ENABLED, ")
        assert str(refused.value).endswith("not RATE_LIMIT_ENABLED")

    def test_allow_insecure_does_not_keep_a_console_channel(self):
        with pytest.raises(ConfigError, match=r"^ALLOW_INSECURE may name"):
            Config.load({**PRODUCTION, "SMS_CHANNEL": "console", "ALLOW_INSECURE": "SMS_CHANNEL"})

    def test_every_country_named_with_a_star_is_explicit(self):
        assert Config.load({**PRODUCTION, "SMS_ALLOWED_COUNTRIES": "*"}).SMS_ALLOWED_COUNTRIES is None

    @pytest.mark.parametrize(
        "tls",
        [{}, {"SMTP_PORT": "465"}, {"SMTP_SSL": "true", "SMTP_STARTTLS": "false"}],
        ids=["starttls", "implicit-465", "implicit"],
    )
    def test_smtp_that_logs_in_over_tls_is_accepted(self, tls):
        smtp = {"EMAIL_CHANNEL": "smtp", "SMTP_USER": "mailer", "SMTP_PASSWORD": "p", **tls}
        assert Config.load({**PRODUCTION, **smtp}).SMTP_USER == "mailer"

    def test_smtp_without_tls_that_does_not_log_in_is_accepted(self):
        relay = {"EMAIL_CHANNEL": "smtp", "SMTP_HOST": "relay", "SMTP_STARTTLS": "false"}
        assert Config.load({**PRODUCTION, **relay}).SMTP_STARTTLS is False

    def test_https_gateways_are_accepted(self):
        gateways = {"SMS_HTTP_URL": "https://sms.example/send", "TWILIO_API_BASE": "https://api.twilio.com"}
        assert Config.load({**PRODUCTION, **gateways}).SMS_HTTP_URL == "https://sms.example/send"


class TestChannels:
    def test_an_unknown_sms_channel_is_refused_naming_sms_channel(self):
        with pytest.raises(ConfigError, match="SMS_CHANNEL"):
            create_senders(Config.load({"SMS_CHANNEL": "carrier-pigeon"}))

    def test_an_unknown_email_channel_is_refused_naming_email_channel(self):
        with pytest.raises(ConfigError, match="EMAIL_CHANNEL"):
            create_senders(Config.load({"EMAIL_CHANNEL": "carrier-pigeon"}))

    def test_the_default_channels_give_a_sender_for_phone_and_for_email(self):
        senders = create_senders(Config.load({}))
        assert set(senders) == {"phone", "email"}


def test_implicit_tls_is_the_default_on_port_465_and_starttls_elsewhere():
    assert (Config.load({"SMTP_PORT": "465"}).SMTP_SSL, Config.load({}).SMTP_SSL) == (True, False)
    assert Config.load({}).SMTP_STARTTLS is True


def test_implicit_tls_and_starttls_cannot_both_be_asked_for():
    with pytest.raises(ConfigError, match="SMTP_SSL and SMTP_STARTTLS"):
        Config.load({"SMTP_SSL": "true", "SMTP_STARTTLS": "true"})


@pytest.mark.parametrize("value", ["0", "61", "soon"])
def test_the_channel_timeout_is_whole_seconds_from_1_to_60(value):
    with pytest.raises(ConfigError, match="CHANNEL_TIMEOUT"):
        Config.load({"CHANNEL_TIMEOUT": value})


def test_a_refusal_names_the_variable_and_repeats_the_value_given_stripped():
    with pytest.raises(ConfigError) as refused:
        Config.load({"OTP_LENGTH": " 5 "})
    assert str(refused.value) == "OTP_LENGTH must be a whole number from 6 to 10, not '5'"


@pytest.mark.parametrize(
    ("settings", "secret"),
    [
        ({"SECRET_KEY": "too-short-secret"}, "too-short-secret"),
        ({"ADMIN_API_KEY": "short-admin"}, "short-admin"),
        ({"DATABASE_URL": "mysql://registrar:hunter2@db/registrar"}, "hunter2"),
        ({"REDIS_URL": "http://:hunter2@cache:6379"}, "hunter2"),
    ],
)
def test_a_refused_secret_is_named_but_never_repeated(settings, secret):
    with pytest.raises(ConfigError) as refused:
        Config.load(settings)
    assert next(iter(settings)) in str(refused.value)
    assert secret not in str(refused.value)


class TestWhereSettingsAreRead:
    def test_load_reads_the_process_environment_with_the_same_rules(self, monkeypatch):
        environment = {
            "OTP_LENGTH": " 8 ",
            "DEFAULT_LOCALE": "  ",
            "SMS_ALLOWED_COUNTRIES": "sa, ae",
            "WEBHOOK_RETRY_SCHEDULE": "5,60",
            "REVEAL_EXISTING_ACCOUNTS": "Yes",
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        expected = {
            "OTP_LENGTH": 8,
            "DEFAULT_LOCALE": "en",
            "SMS_ALLOWED_COUNTRIES": {"SA", "AE"},
            "WEBHOOK_RETRY_SCHEDULE": (5, 60),
            "REVEAL_EXISTING_ACCOUNTS": True,
        }

        config = Config.load()

        assert {name: getattr(config, name) for name in expected} == expected

    def test_a_bad_value_in_the_process_environment_is_refused_naming_its_variable(self, monkeypatch):
        monkeypatch.setenv("CHANNEL_TIMEOUT", "61")
        with pytest.raises(ConfigError) as refused:
            Config.load()
        assert str(refused.value) == "CHANNEL_TIMEOUT must be a whole number from 1 to 60, not '61'"

    def test_only_the_variables_exact_upper_case_names_are_read(self, monkeypatch):
        monkeypatch.delenv("OTP_LENGTH", raising=False)
        monkeypatch.setenv("otp_length", "8")
        assert Config.load().OTP_LENGTH == 6

    def test_a_mapping_is_read_alone_without_the_process_environment(self, monkeypatch):
        monkeypatch.setenv("OTP_LENGTH", "8")
        monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
        monkeypatch.setenv("REGISTRAR_ENV", "production")

        config = Config.load({"OTP_TTL": "600"})

        expected = {"OTP_LENGTH": 6, "OTP_TTL": 600, "REDIS_URL": None, "ENVIRONMENT": "development"}
        assert {name: getattr(config, name) for name in expected} == expected
