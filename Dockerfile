# The emulator as a CI fixture container: configured by EMULATOR_* variables only, runs as non-root.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    EMULATOR_HOST=0.0.0.0 \
    EMULATOR_PORT=8080 \
    EMULATOR_WORKERS=2 \
    EMULATOR_STATE_DIR=/var/lib/emulator

WORKDIR /app
COPY pyproject.toml README.md ./
COPY emulator ./emulator
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app emulator \
    && mkdir -p /var/lib/emulator && chown emulator /var/lib/emulator

USER emulator
EXPOSE 8080 8081 8082 8083
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_emulator/health' % os.environ.get('EMULATOR_PORT', '8080'), timeout=2)"

CMD ["email-events-emulator", "serve"]
