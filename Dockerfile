# goat: one image for every process (api, listener, jobs, worker, db upgrade).
# The command is the entry point: `docker run IMAGE listener`, `... db upgrade`.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtual environment with goat and its server extra -----------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/goat
COPY pyproject.toml README.md ./
COPY src ./src
# server: what every goat command needs (weasyprint for receipts and boto3 included)
ARG GOAT_EXTRAS=server
RUN /opt/goat/bin/pip install --no-compile ".[${GOAT_EXTRAS}]"

# --- runtime: the venv, weasyprint's system libraries, a user without privileges -------
FROM ${PYTHON_IMAGE} AS runtime
# weasyprint (PDF receipts) draws text with pango and harfbuzz; fonts so receipts have
# glyphs. Debian's versions are fixed by the base image's release, not pinned here.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
        libjpeg62-turbo libopenjp2-7 fonts-dejavu-core shared-mime-info \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 goat \
    && useradd --system --uid 10001 --gid goat --home-dir /var/lib/goat --create-home goat
COPY --from=build /opt/goat /opt/goat
ENV PATH=/opt/goat/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GOAT_DATA_DIR=/var/lib/goat \
    GOAT_LOG_FORMAT=json
WORKDIR /var/lib/goat
USER 10001:10001
# 8000: goat api; 8001: goat jobs; 9100: goat listener's /health, /ready, /metrics
EXPOSE 8000 8001 9100
ENTRYPOINT ["goat"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
