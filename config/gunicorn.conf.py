"""gunicorn settings for `make run` and production (`gunicorn -c config/gunicorn.conf.py wsgi:app`).
Threaded workers, as a request mostly waits on Redis, the database or a channel; 32 threads each, as
one worker may be handed most of a burst and should let all of it wait on a slow provider at once:
with a gateway taking 1 s, 32 concurrent starts answer in about 1 s (16 threads: 2 s)."""

import os
import sys

bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# gthread, answering gunicorn's own refusals (a request line too long, a bad header) as JSON.
worker_class = "app.serving.JsonErrorWorker"
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None
errorlog = "-"
forwarded_allow_ips = "127.0.0.1"
# Several services (and test servers) on one host would share the default control socket.
control_socket_disable = True


def on_starting(server):
    """Refuse to start, in one line naming the variable, when a setting is wrong."""
    from app import validate_config
    from config.settings import ConfigError

    try:
        validate_config()
    except ConfigError as error:
        sys.stderr.write(f"registrar: {error}\n")
        sys.exit(2)
