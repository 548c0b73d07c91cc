# syntax=docker/dockerfile:1
# github-insights-exporter container image.
#
#   docker build -t github-insights-exporter .
#   docker run --rm -p 9877:9877 github-insights-exporter --demo
#   docker run --rm -p 9877:9877 -e GITHUB_TOKEN \
#     -v "$PWD/config.yml:/etc/github-insights-exporter/config.yml:ro" github-insights-exporter
#
# Stage "build" turns the exporter and every dependency into wheels; stage
# "runtime" installs only those wheels into a clean slim image (no compilers,
# no source tree) and runs as an unprivileged user. The root filesystem can
# be read-only: the exporter writes nothing to disk.

FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip wheel --wheel-dir /wheels .

FROM python:3.12-slim AS runtime
LABEL org.opencontainers.image.title="github-insights-exporter" \
      org.opencontainers.image.description="Prometheus exporter for GitHub's statistics REST endpoints" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# The wheels are bind-mounted from the build stage, so none stays in a layer.
# No version pin needed (DL3013): --no-index installs only the wheels built above.
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels github-insights-exporter \
    && groupadd --system --gid 10001 exporter \
    && useradd --system --uid 10001 --gid exporter --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin exporter
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HEALTHCHECK_URL=http://127.0.0.1:9877/-/healthy

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 9877

# No curl in slim images: Python's standard library does the probe. Change
# HEALTHCHECK_URL with --web.listen-address (or https with --web.config.file).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4)"]

ENTRYPOINT ["github-insights-exporter"]
CMD ["--config.file=/etc/github-insights-exporter/config.yml"]
