# The emulator as a CI fixture container: configured by EMULATOR_* variables only, runs as non-root.
# No compilers (slim base, every dependency ships as a wheel); no test dependencies, but the `conform` extra.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    EMULATOR_HOST=0.0.0.0 \
    EMULATOR_PORT=8080 \
    EMULATOR_WORKERS=2 \
    EMULATOR_STATE_DIR=/var/lib/emulator

WORKDIR /app
# Dependencies first, in a layer of their own: a code change rebuilds only the layers below.
# The versions are those of constraints.txt, as for `make` and CI (refresh with `make lock`); the `conform` extra
# too (schemathesis), so that `docker run ... email-events-emulator conform` works.
COPY pyproject.toml README.md constraints.txt ./
RUN python -c "import subprocess, sys, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; deps = p['dependencies'] + p['optional-dependencies']['conform']; subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--constraint', 'constraints.txt', *deps])"
COPY emulator ./emulator
# pip compiles the installed modules to bytecode (PYTHONDONTWRITEBYTECODE only stops it at run time), so
# the server starts without compiling anything.
RUN pip install --no-deps . \
    && rm -rf build *.egg-info \
    && groupadd --system --gid 10001 emulator \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin emulator \
    && mkdir -p /var/lib/emulator && chown 10001:10001 /var/lib/emulator

# Numeric, so that runtimes checking runAsNonRoot can tell without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080 8081 8082 8083
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_emulator/health' % os.environ.get('EMULATOR_PORT', '8080'), timeout=2)"

CMD ["email-events-emulator", "serve"]
