# syntax=docker/dockerfile:1
# One image for the web app (gunicorn), the Celery worker and Celery beat; see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    IDP_VAR_DIR=/var/lib/idp \
    STATIC_ROOT=/app/staticfiles \
    XDG_RUNTIME_DIR=/tmp

# An unprivileged user; the var directory (secret key, signing keys, uploads) is its only
# writable place and is where docker-compose.yml mounts the shared volume.
RUN groupadd --system --gid 10001 idp \
    && useradd --system --uid 10001 --gid idp --home-dir /var/lib/idp --no-create-home idp \
    && install -d -o idp -g idp -m 0700 /var/lib/idp

WORKDIR /app

# Dependencies first, so that this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -m venv /opt/venv \
    && pip install . \
    && rm -rf build ./*.egg-info

COPY . .

# Static files are collected into the image. The settings module needs a secret and a signing
# key to load: throwaway values and a throwaway var directory keep real ones out of the layers.
RUN SECRET_KEY=collectstatic-only OIDC_RSA_PRIVATE_KEY=collectstatic-only IDP_VAR_DIR=/tmp/build-var \
        python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-var

USER idp
EXPOSE 8000
CMD ["gunicorn", "idp.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
