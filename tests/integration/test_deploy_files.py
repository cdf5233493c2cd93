"""The self-hosting files (Dockerfile, compose.yaml, deploy/) say what the app reads and what the
proxies accept: every variable they set is a setting of portal_app/settings.py (or Reflex's, Granian's,
the image's own), no secret is written in them, the Caddyfile and the nginx site validate with the
real programs when installed, and the entrypoint turns NAME_FILE secrets into NAME. There is no Docker
engine here: the image itself is not built."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from portal_app.settings import Settings
from tests.checkout import ROOT

pytestmark = pytest.mark.integration

COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
NGINX_SITE = ROOT / "deploy" / "nginx-portal.conf"
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
ENV_EXAMPLE = ROOT / "deploy" / "portal.env.example"

# Secrets the entrypoint reads from NAME_FILE (deploy/entrypoint.sh).
FILE_SECRETS = {"SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SMTP_PASSWORD"}
# Read by the image itself (entrypoint, health check), by Python, pip and npm.
IMAGE_OWN = {"PORT", "PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_DISABLE_PIP_VERSION_CHECK"}
IMAGE_OWN |= {"PIP_NO_CACHE_DIR", "NPM_CONFIG_REGISTRY"}
# Named by issue 11 and added by another branch; remove a name here once settings.py has it.
SECRET_NAMES = re.compile(r"SECRET|PASSWORD|TOKEN|KEY", re.I)


def setting_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        names.add(str(field.validation_alias or name).upper())
    return names


def compose_app_environment() -> dict[str, str]:
    """The app service's `environment:` mapping (two-space YAML, as compose.yaml is written)."""
    lines = COMPOSE.read_text().splitlines()
    start = lines.index("  app:")
    env, inside = {}, False
    for line in lines[start + 1 :]:
        if re.match(r"  \S", line):  # the next service
            break
        if line == "    environment:":
            inside = True
            continue
        if inside:
            match = re.match(r"      ([A-Z_][A-Z0-9_]*): ?(.*)$", line)
            if match:
                env[match.group(1)] = match.group(2)
            elif not line.strip().startswith("#"):
                inside = False
    return env


def dockerfile_env_names() -> set[str]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    names = set()
    for line in text.splitlines():
        if line.startswith("ENV "):
            names |= set(re.findall(r"([A-Z_][A-Z0-9_]*)=", line))
    return names


def test_compose_has_the_four_services_with_health_checks():
    text = COMPOSE.read_text()
    services = re.findall(r"^  ([a-z]+):$", text.split("\nservices:\n", 1)[1].split("\nnetworks:\n", 1)[0], re.M)
    assert services == ["postgres", "redis", "app", "caddy"]
    assert text.count("    healthcheck:") == 4
    assert "/api/health" in text and "/api/health" in DOCKERFILE.read_text()


def test_compose_parses_as_yaml():
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (the structure test above still ran)")
    compose = yaml.safe_load(COMPOSE.read_text())
    assert set(compose["services"]) == {"postgres", "redis", "app", "caddy"}
    assert all("healthcheck" in service for service in compose["services"].values())
    assert set(compose["services"]["app"]["environment"]) == set(compose_app_environment())


def test_every_variable_set_for_the_app_is_a_setting():
    known = setting_names() | {f"{name}_FILE" for name in FILE_SECRETS} | IMAGE_OWN
    example = set(re.findall(r"^# ?([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    names = set(compose_app_environment()) | dockerfile_env_names() | example
    assert "ENVIRONMENT" in names and "REFLEX_REDIS_URL" in names
    unknown = {n for n in names - known if not n.startswith(("REFLEX_", "GRANIAN_"))}
    assert not unknown, f"not read by settings.py, Reflex or the image: {sorted(unknown)}"
    assert setting_names() >= FILE_SECRETS


def test_no_secret_value_is_written_in_compose_or_the_image():
    env = compose_app_environment()
    for name, value in env.items():
        if SECRET_NAMES.search(name):
            assert name.endswith("_FILE") and value.startswith("/run/secrets/"), name
    assert "REFLEX_REDIS_URL" in env and "@" not in env.get("REFLEX_REDIS_URL", "")
    assert "POSTGRES_PASSWORD:" not in COMPOSE.read_text()
    assert not re.search(r"\b(sk|rk)_(live|test)_\w+|whsec_\w+", COMPOSE.read_text() + DOCKERFILE.read_text())
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "data", ".venv", "tools", ".web", ".git"} <= set(ignored)


def test_the_entrypoint_exports_file_secrets(tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("from-a-file-" + "k" * 40)
    env = {"PATH": os.environ["PATH"], "SECRET_KEY_FILE": str(secret)}
    out = subprocess.run([str(ENTRYPOINT), "env"], env=env, capture_output=True, text=True, check=True).stdout
    assert "SECRET_KEY=from-a-file-" + "k" * 40 in out.splitlines()
    assert "SECRET_KEY_FILE" not in out


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
@pytest.mark.parametrize("public_url", ["https://portal.example.com", "http://localhost:8080"])
def test_the_caddyfile_validates(tmp_path, public_url):
    env = {**os.environ, "PUBLIC_URL": public_url, "APP_UPSTREAM": "127.0.0.1:8000", "HOME": str(tmp_path)}
    result = subprocess.run(
        ["caddy", "validate", "--adapter", "caddyfile", "--config", str(CADDYFILE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx)")
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed (for a throwaway certificate)")
def test_the_nginx_site_passes_nginx_t(tmp_path):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=portal.example.com"]
        + ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True,
        capture_output=True,
    )
    site = NGINX_SITE.read_text()
    assert "client_max_body_size 3m;" in site  # above MAX_UPLOAD_BYTES (2 MB)
    site = site.replace("/etc/letsencrypt/live/portal.example.com/fullchain.pem", str(tmp_path / "cert.pem"))
    site = site.replace("/etc/letsencrypt/live/portal.example.com/privkey.pem", str(tmp_path / "key.pem"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
