#!/bin/sh
# The container's entrypoint (Dockerfile, compose.yaml).
#
# Secrets as files: for each setting below, NAME_FILE=/run/secrets/x exports NAME with that file's
# content (Docker's usual convention), so no secret sits in compose.yaml or the image.
#
# `serve` (the default command): apply the migrations (reflex db migrate), then serve the frontend
# built into the image and the backend on one port (deploy/serve.py). Anything else runs as given:
#   docker compose run --rm app python -m portal_app.billing run
#   docker compose run --rm app reflex db migrate
set -eu
cd "$(dirname "$0")/.."

for name in SECRET_KEY DATABASE_URL STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET SMTP_PASSWORD; do
    eval "file=\${${name}_FILE:-}"
    if [ -n "$file" ]; then
        value=$(cat "$file")
        export "$name=$value"
        unset "${name}_FILE"
    fi
done

if [ "${1:-serve}" = "serve" ]; then
    [ "$#" -gt 0 ] && shift
    reflex db migrate
    exec python deploy/serve.py --host 0.0.0.0 --port "${PORT:-8000}" "$@"
fi
exec "$@"
