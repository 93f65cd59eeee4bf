"""Registrar: OTP-verified customer registration for online stores."""

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import Flask
from flask_cors import CORS
from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry
from sqlalchemy import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from app import edge, http, logs
from app.accounts import Accounts
from app.channels import create_senders
from app.channels.courier import BackgroundCourier, Courier
from app.codes import LOGIN, REGISTER, CodeHasher, CodePolicy, Codes, CodeStore
from app.customers import routes as customers_routes
from app.db import make_engine
from app.embedded_redis import EmbeddedRedis
from app.health import routes as health_routes
from app.idempotency import IdempotencyStore
from app.identity import ContactPolicy
from app.instance import read_or_create
from app.limits import LimitPolicy, Limits
from app.login import routes as login_routes
from app.login.service import LoginService
from app.registration import routes as registration_routes
from app.registration.service import RegistrationService
from app.tokens import SigningKeys, TokenPolicy, TokenService
from app.tokens import routes as tokens_routes
from app.webhooks import routes as webhooks_routes
from app.webhooks.cli import webhooks as webhooks_cli
from app.webhooks.outbox import Outbox
from app.webhooks.service import WebhookAdmin
from app.webhooks.worker import DeliveryWorker, Pacing
from app.widget import routes as widget_routes
from config.settings import Config

CORS_OPTIONS = {
    "allow_headers": ["Content-Type", "Authorization", "Accept-Language", "Idempotency-Key", "X-Request-ID"],
    "expose_headers": ["Location", "Retry-After", "X-Request-ID", "Idempotent-Replayed"],
    "max_age": 600,
}


@dataclass(frozen=True)
class Registrar:
    """The adapters and services one app runs on, kept in `app.extensions["registrar"]`."""

    redis: Redis
    engine: Engine
    tokens: TokenService
    registration: RegistrationService
    login: LoginService
    webhooks: WebhookAdmin
    idempotency: IdempotencyStore
    sign_in_codes: BackgroundCourier

    def close(self) -> None:
        """Let the sign-in codes still being sent leave, then drop every connection."""
        self.sign_in_codes.close()
        self.engine.dispose()
        self.redis.close()


def create_app(config: Config | None = None) -> Flask:
    """Build the service: extensions, then adapters, then blueprints."""
    config = config or Config.load()
    app = Flask(__name__, instance_path=str(config.INSTANCE_PATH))
    app.config.from_object(config)
    logs.configure_logging()

    # extensions: flask-smorest's Api keeps one app and one spec, so each app gets its own.
    api = http.RegistrarApi(app)
    bearer = {"type": "http", "scheme": "bearer"}
    api.spec.components.security_scheme("bearerAuth", {**bearer, "bearerFormat": "JWT"})
    api.spec.components.security_scheme("adminKey", bearer)
    http.register(app)
    logs.register(app)
    if config.TRUSTED_PROXIES:
        # The client is the address the nearest trusted proxy saw, and no other header counts.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.TRUSTED_PROXIES, x_proto=config.TRUSTED_PROXIES)
    else:
        edge.warn_once_of_forwarded_requests(app)
    if config.CORS_ORIGINS:
        CORS(app, origins=list(config.CORS_ORIGINS), **CORS_OPTIONS)

    # adapters
    app.extensions["registrar"] = build_registrar(config)

    # blueprints
    api.register_blueprint(registration_routes.blp)
    api.register_blueprint(login_routes.blp)
    api.register_blueprint(tokens_routes.blp)
    api.register_blueprint(customers_routes.blp)
    api.register_blueprint(webhooks_routes.blp)
    api.register_blueprint(health_routes.blp)
    app.register_blueprint(widget_routes.blp)  # a script and a page, not JSON: outside the OpenAPI document
    app.cli.add_command(webhooks_cli)
    return app


def validate_config(config: Config | None = None) -> Config:
    """Every check a setting gets at start-up, without connecting to anything."""
    config = config or Config.load()
    create_senders(config)
    SigningKeys.create_service(config.JWT_PRIVATE_KEY, config.JWT_PREVIOUS_PUBLIC_KEYS, config.INSTANCE_PATH)
    return config


def make_redis(config: Config) -> Redis:
    """A client with short timeouts, so that an outage answers 503 within 2 s. A dropped
    connection is retried once at once; a timeout is not (a hung Redis would cost twice)."""
    url = config.REDIS_URL or EmbeddedRedis(config.INSTANCE_PATH).start(detach=True)
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=1.5,
        socket_connect_timeout=1,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=30,
    )


def server_secret(config: Config) -> str:
    """SECRET_KEY, or one generated once into the instance folder."""
    if config.SECRET_KEY:
        return config.SECRET_KEY
    path = config.INSTANCE_PATH / "secret_key"
    return read_or_create(path, lambda: secrets.token_urlsafe(48).encode()).decode()


def build_registrar(config: Config) -> Registrar:
    """Every adapter and service, wired from the configuration. Nothing connects yet, but with no
    REDIS_URL the embedded Redis starts. Registration and login share one code budget per destination."""
    redis, engine = make_redis(config), make_engine(config.DATABASE_URL)
    store = CodeStore(redis, CodePolicy.from_config(config))
    hasher = CodeHasher(server_secret(config))
    limits = Limits(redis, LimitPolicy.from_config(config), hasher.prefix)
    courier = Courier(create_senders(config), config.STORE_NAME, config.OTP_TTL, config.WEBOTP_DOMAIN)
    # Sign-in codes leave in the background, so that the answer takes as long whether a
    # code is sent or not: its time tells nobody who has an account.
    sign_in_courier = BackgroundCourier(courier, ThreadPoolExecutor(32, thread_name_prefix="sign-in-codes"))
    accounts, outbox = Accounts(engine), Outbox(engine)
    keys = SigningKeys.create_service(
        config.JWT_PRIVATE_KEY, config.JWT_PREVIOUS_PUBLIC_KEYS, config.INSTANCE_PATH
    )
    tokens = TokenService(keys, engine, accounts, TokenPolicy.from_config(config))
    contacts = ContactPolicy(config.SMS_ALLOWED_COUNTRIES, config.EMAIL_CHECK_DELIVERABILITY)
    reveal = config.REVEAL_EXISTING_ACCOUNTS
    registration_codes = Codes(REGISTER, store, limits, courier, hasher, failures=outbox)
    login_codes = Codes(LOGIN, store, limits, sign_in_courier, hasher)
    return Registrar(
        redis=redis,
        engine=engine,
        tokens=tokens,
        registration=RegistrationService(registration_codes, accounts, tokens, outbox, contacts, reveal),
        login=LoginService(login_codes, accounts, tokens, contacts, reveal),
        webhooks=WebhookAdmin(engine, allow_private_urls=config.WEBHOOK_ALLOW_PRIVATE_URLS),
        idempotency=IdempotencyStore(redis),
        sign_in_codes=sign_in_courier,
    )


def build_worker(config: Config) -> DeliveryWorker:
    """The webhook delivery worker, on the same Redis and database as the service."""
    engine = make_engine(config.DATABASE_URL)
    return DeliveryWorker(
        engine,
        CodeStore(make_redis(config), CodePolicy.from_config(config)),
        Outbox(engine),
        schedule=config.WEBHOOK_RETRY_SCHEDULE,
        allow_private_urls=config.WEBHOOK_ALLOW_PRIVATE_URLS,
        pacing=Pacing(lease=config.WEBHOOK_LEASE),
        event_retention=config.WEBHOOK_EVENT_RETENTION,
    )
