import pytest

from portal_app.settings import Settings, parse_dunning_schedule


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
