import re

import pytest
from pydantic import ValidationError

from portal_app.settings import ConfigError, Settings, describe, get_settings, load_settings, parse_dunning_schedule


def test_production_refuses_placeholder_secret(monkeypatch):
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(environment="production", secret_key="changeme", _env_file=None)


def test_short_secret_refused():
    with pytest.raises(ValueError, match="32"):
        Settings(secret_key="too-short-but-not-a-placeholder", _env_file=None)


def test_live_stripe_key_beside_simulated_gateway_refused():
    with pytest.raises(ValueError, match="live Stripe key"):
        Settings(secret_key="k" * 40, gateway="simulated", stripe_secret_key="sk_live_abc", _env_file=None)


def test_test_stripe_key_beside_simulated_gateway_allowed():
    assert Settings(secret_key="k" * 40, stripe_secret_key="sk_test_abc", _env_file=None).gateway == "simulated"


def test_redis_url_passthrough(monkeypatch):
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://127.0.0.1:6379/3")
    assert Settings(secret_key="k" * 40, _env_file=None).reflex_redis_url == "redis://127.0.0.1:6379/3"


@pytest.mark.parametrize("text,days", [("1,3,5,7", [1, 3, 5, 7]), ("2", [2]), (" 1, 10 ", [1, 10])])
def test_dunning_schedule_parses(text, days):
    assert parse_dunning_schedule(text) == days


@pytest.mark.parametrize("text", ["", "0,1", "3,1", "1,1", "-1", "a"])
def test_dunning_schedule_rejects_nonsense(text):
    with pytest.raises(ValueError):
        parse_dunning_schedule(text)


# ---------------------------------------------------------------- start-up checks (issue 11)

SECRET = "k" * 40
LIVE = dict(
    gateway="stripe",
    environment="production",
    public_url="https://billing.example.com",
    secret_key=SECRET,
    stripe_secret_key="sk_live_51Abcdefghijklmnop",
    stripe_publishable_key="pk_live_51Abcdefghijklmnop",
    stripe_webhook_secret="whsec_Abcdefghijklmnop",
)


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def test_values_pasted_with_whitespace_are_trimmed():
    s = settings(
        **{
            **LIVE,
            "stripe_secret_key": "  sk_live_51Abcdefghijklmnop\n",
            "stripe_publishable_key": "\tpk_live_51Abcdefghijklmnop \r\n",
            "stripe_webhook_secret": " whsec_Abcdefghijklmnop\n",
            "secret_key": f" {SECRET}\n",
            "public_url": " https://billing.example.com\n",
        }
    )
    assert s.stripe_secret_key == LIVE["stripe_secret_key"]
    assert s.stripe_publishable_key == LIVE["stripe_publishable_key"]
    assert s.stripe_webhook_secret == LIVE["stripe_webhook_secret"]
    assert s.secret_key == SECRET and s.public_url == "https://billing.example.com"


def test_a_consistent_live_setup_starts():
    assert settings(**LIVE).gateway == "stripe"


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"stripe_secret_key": "pk_live_51Abcdefghijklmnop"}, "STRIPE_SECRET_KEY"),
        ({"stripe_secret_key": "sk_live_51Abc def"}, "STRIPE_SECRET_KEY"),
        ({"stripe_publishable_key": "sk_live_51Abcdefghijklmnop"}, "STRIPE_PUBLISHABLE_KEY"),
        ({"stripe_webhook_secret": "we_123"}, "STRIPE_WEBHOOK_SECRET"),
        ({"stripe_publishable_key": "pk_test_51Abcdefghijklmnop"}, "STRIPE_PUBLISHABLE_KEY"),
        ({"stripe_webhook_secret": ""}, "STRIPE_WEBHOOK_SECRET"),
        ({"environment": "development"}, "ENVIRONMENT=production"),
        ({"public_url": "http://billing.example.com"}, "PUBLIC_URL"),
        ({"public_url": "billing.example.com"}, "PUBLIC_URL"),
        ({"gateway": "simulated", "stripe_secret_key": ""}, "STRIPE_PUBLISHABLE_KEY"),  # live pk beside it
        ({"gateway": "simulated"}, "GATEWAY"),
        ({"secret_key": "changeme"}, "SECRET_KEY"),
        ({"dunning_schedule_days": "3,1"}, "DUNNING_SCHEDULE_DAYS"),
        ({"database_url": "not a url"}, "DATABASE_URL"),
        ({"log_level": "loud"}, "LOG_LEVEL"),
        ({"log_format": "xml"}, "LOG_FORMAT"),
    ],
)
def test_each_refusal_is_one_line_naming_the_setting_without_its_value(overrides, names):
    with pytest.raises(ValidationError) as info:
        settings(**{**LIVE, **overrides})
    line = describe(info.value)
    assert names in line and "\n" not in line
    secrets_given = [v for k, v in {**LIVE, **overrides}.items() if k.endswith(("_key", "_secret")) and v]
    for value in secrets_given:  # no 8-character piece of a key or secret (past its public prefix)
        value = re.sub(r"^(?:(?:sk|rk|pk)_(?:test|live)_|whsec_)", "", value)
        assert not any(value[i : i + 8] in line for i in range(len(value) - 7)), value


def test_load_settings_raises_config_error_from_no_validation_error(monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_51SecretSecretSecret")
    monkeypatch.setenv("GATEWAY", "simulated")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "SecretSecret" not in str(info.value) and info.value.__cause__ is None
    assert info.value.__suppress_context__  # no pydantic traceback (it echoes input values) chained


@pytest.mark.parametrize("url", ["http://localhost:3000", "http://127.0.0.1:8000", "http://[::1]:3000"])
def test_production_accepts_plain_http_on_this_machine_only(url):
    assert settings(environment="production", secret_key=SECRET, demo_mode=True, public_url=url).public_url == url


def test_production_refuses_plain_http_elsewhere():
    with pytest.raises(ValidationError, match="PUBLIC_URL must start with https://"):
        settings(environment="production", secret_key=SECRET, demo_mode=True, public_url="http://shop.example.com")


def test_production_refuses_the_simulated_gateway_unless_demo_mode():
    with pytest.raises(ValidationError, match="DEMO_MODE=true"):
        settings(environment="production", secret_key=SECRET, public_url="https://demo.example.com")
    demo = settings(environment="production", secret_key=SECRET, public_url="https://demo.example.com", demo_mode=True)
    assert demo.gateway == "simulated" and demo.demo_mode


def test_development_keeps_the_simulated_gateway_and_http_without_demo_mode():
    s = settings(secret_key=SECRET, public_url="http://192.168.1.20:3000")
    assert s.gateway == "simulated" and not s.demo_mode


def test_log_settings_default_and_any_case(monkeypatch):
    s = settings(secret_key=SECRET)
    assert (s.log_level, s.log_format) == ("INFO", "text")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    s = settings(secret_key=SECRET)
    assert (s.log_level, s.log_format) == ("DEBUG", "json")


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_bad_signup_ip_limit_stops_start_up(value):
    with pytest.raises(ValidationError):
        Settings(secret_key="k" * 40, signup_ip_limit=value, _env_file=None)


def test_the_signup_ip_limit_defaults_to_ten():
    assert Settings(secret_key="k" * 40, _env_file=None).signup_ip_limit == 10


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_bad_card_token_ip_limit_stops_start_up(value):
    with pytest.raises(ValidationError):
        Settings(secret_key="k" * 40, card_token_ip_limit=value, _env_file=None)


def test_the_card_token_ip_limit_defaults_to_sixty_and_reaches_the_tokenizer():
    from portal_app.api import simulated_gateway

    assert Settings(secret_key="k" * 40, _env_file=None).card_token_ip_limit == 60
    assert simulated_gateway.tokenize_limiter.limit == get_settings().card_token_ip_limit
