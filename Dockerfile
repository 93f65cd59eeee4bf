# A slim, non-root image: migrations, then gunicorn on $PORT.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    REGISTRAR_ENV=production \
    PORT=8000

WORKDIR /srv/registrar
COPY requirements.txt .
RUN pip install --no-compile -r requirements.txt \
    && useradd --system --uid 10001 --home-dir /srv/registrar registrar

COPY --chown=registrar:registrar app ./app
COPY --chown=registrar:registrar config ./config
COPY --chown=registrar:registrar wsgi.py .

USER registrar
EXPOSE 8000
CMD ["sh", "-c", "python -m app migrate && exec gunicorn -c config/gunicorn.conf.py wsgi:app"]
