# The portal as one image: what `make run` does, done once at build time.
#   docker compose up -d --build      (compose.yaml: PostgreSQL, Redis, this app, Caddy)
# The frontend is built here (bun, from the npm registry like the Makefile), so a container starts in
# seconds: deploy/entrypoint.sh migrates and serves that build on one port (deploy/serve.py).
FROM python:3.11-slim-bookworm

# No calls home; pip and npm from their usual registries (override with --build-arg).
ARG NPM_CONFIG_REGISTRY=https://registry.npmjs.org/
ENV REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    NPM_CONFIG_REGISTRY=${NPM_CONFIG_REGISTRY} \
    PATH=/app/.venv/bin:/app/tools/node_modules/.bin:$PATH

# nodejs/npm from Debian only to install bun from the npm registry (Reflex's own bun download needs
# the open web). Reflex then runs bun; its "Node.js is out of date" warning is harmless.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system portal && useradd --system --gid portal --home-dir /app --shell /usr/sbin/nologin portal
WORKDIR /app

# Dependencies first (cached while only the code changes): the hash lock, as `make deps` installs it.
ARG PIP_VERSION=26.3
COPY requirements.txt ./
RUN python -m venv .venv \
    && .venv/bin/python -m pip install --quiet pip==${PIP_VERSION} \
    && .venv/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements.txt \
    && .venv/bin/python -m pip check

ARG BUN_VERSION=1.4.4
RUN mkdir -p tools \
    && npm install --silent --no-audit --no-fund --prefix tools bun@${BUN_VERSION} \
    && tools/node_modules/.bin/bun --version

COPY . .

# The gettext catalogues (make messages-compile).
RUN for po in portal_app/i18n/locale/*/LC_MESSAGES/messages.po; do \
        pybabel compile -i "$po" -o "${po%.po}.mo"; \
    done

# The production frontend (reflex export --frontend-only --no-zip leaves it in .web/build/client).
# The browser's event socket address is baked into it: PUBLIC_URL, as browsers reach the site
# (rebuild when it changes). The build imports the app: a throwaway secret and database for this
# step only, so no secret_key and no database file end up in the image.
ARG PUBLIC_URL=http://localhost
RUN REFLEX_API_URL="${PUBLIC_URL}" REFLEX_DEPLOY_URL="${PUBLIC_URL}" PUBLIC_URL="${PUBLIC_URL}" \
        SECRET_KEY="image-build-only-$(python -c 'import secrets; print(secrets.token_hex(24))')" \
        DATABASE_URL=sqlite:////tmp/build.db \
        reflex export --frontend-only --no-zip \
    && rm -rf /tmp/build.db data .states \
    && mkdir -p data .states \
    && chown portal:portal data .states

# The same address at run time (the backend's event namespace and CORS come from it).
ENV PUBLIC_URL=${PUBLIC_URL} \
    REFLEX_API_URL=${PUBLIC_URL} \
    REFLEX_DEPLOY_URL=${PUBLIC_URL} \
    ENVIRONMENT=production \
    PORT=8000

USER portal
EXPOSE 8000
VOLUME ["/app/data"]

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/api/health\", timeout=4)"]

ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["serve"]
