"""gunicorn settings for `make run` and production (`gunicorn -c config/gunicorn.conf.py wsgi:app`).

Threaded workers: a request mostly waits on Redis, the database or a channel. Two workers
keep two cores busy; 16 threads each let 32 starts wait on a slow SMS or email provider
at once (a gateway taking 1 s per message still answers 32 concurrent starts in about
1 s) without costing throughput when the provider is fast.
"""

import os
import sys

bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
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
