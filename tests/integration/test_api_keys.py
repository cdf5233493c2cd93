"""API keys: the secret is returned once and only its hash is stored; a key authenticates for its
own merchant until revoked; last use is noted; the CLI prints the secret alone on its last line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from portal_app.billing import accounts, api_keys
from portal_app.billing.errors import NotFound
from portal_app.logredact import redact
from portal_app.models import ApiKey, AuditEvent, utcnow

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _merchant(session: Session, company: str = "Acme") -> int:
    user = accounts.sign_up(
        session, company_name=company, email=f"owner@{company.lower()}.example", password="long enough password"
    )
    return user.merchant_id


def test_a_key_authenticates_its_merchant_and_only_its_hash_is_stored(any_engine):
    with Session(any_engine) as session:
        merchant_id = _merchant(session)
        view, secret = api_keys.create_api_key(session, merchant_id=merchant_id, name="  CRM  sync ", actor="user:1")
        session.commit()
        assert secret.startswith("spk_") and len(secret) == 47
        assert view.name == "CRM sync" and secret.startswith(view.prefix) and len(view.prefix) == 10
        row = session.exec(select(ApiKey)).one()
        assert secret not in {row.secret_hash, row.prefix, row.name} and row.secret_hash == api_keys.hash_key(secret)
        assert api_keys.authenticate(session, secret) == api_keys.ApiKeyIdentity(merchant_id, view.id)
        kinds = session.exec(select(AuditEvent.kind)).all()
        assert "api_key_created" in kinds


@pytest.mark.parametrize(
    "bad", [None, "", 42, "spk_", "spk_" + "x" * 43, "Bearer spk_x", "sk_test_123", "spk_" + "a" * 200, b"spk_x"]
)
def test_anything_but_a_live_key_is_refused(engine, bad):
    with Session(engine) as session:
        merchant_id = _merchant(session)
        api_keys.create_api_key(session, merchant_id=merchant_id, actor="cli")
        session.commit()
        assert api_keys.authenticate(session, bad) is None


def test_a_revoked_key_never_authenticates_and_another_merchant_cannot_revoke_it(any_engine):
    with Session(any_engine) as session:
        acme, globex = _merchant(session, "Acme"), _merchant(session, "Globex")
        view, secret = api_keys.create_api_key(session, merchant_id=acme, actor="user:1")
        session.commit()
        with pytest.raises(NotFound):
            api_keys.revoke_api_key(session, merchant_id=globex, key_id=view.id, actor="user:2")
        assert api_keys.authenticate(session, secret) is not None
        revoked = api_keys.revoke_api_key(session, merchant_id=acme, key_id=view.id, actor="user:1")
        session.commit()
        assert not revoked.active
        assert api_keys.authenticate(session, secret) is None
        again = api_keys.revoke_api_key(session, merchant_id=acme, key_id=view.id, actor="user:1")
        assert again.revoked_at == revoked.revoked_at
        assert [k.id for k in api_keys.list_api_keys(session, merchant_id=globex)] == []


def test_last_use_is_written_at_most_once_a_minute(engine):
    with Session(engine) as session:
        merchant_id = _merchant(session)
        view, secret = api_keys.create_api_key(session, merchant_id=merchant_id, actor="cli")
        session.commit()
        first = utcnow()
        api_keys.authenticate(session, secret, now=first)
        api_keys.authenticate(session, secret, now=first + timedelta(seconds=30))
        session.commit()
        assert api_keys.list_api_keys(session, merchant_id=merchant_id)[0].last_used_at == first
        later = first + timedelta(minutes=2)
        api_keys.authenticate(session, secret, now=later)
        session.commit()
        assert api_keys.list_api_keys(session, merchant_id=merchant_id)[0].last_used_at == later


def test_key_names_are_checked(engine):
    with Session(engine) as session:
        merchant_id = _merchant(session)
        with pytest.raises(api_keys.ApiKeyError):
            api_keys.create_api_key(session, merchant_id=merchant_id, name="x" * 81, actor="cli")
        with pytest.raises(api_keys.ApiKeyError):
            api_keys.create_api_key(session, merchant_id=merchant_id, name=["list"], actor="cli")
        with pytest.raises(api_keys.ApiKeyError):
            api_keys.create_api_key_for_slug(session, slug="nobody")


def test_secrets_are_masked_in_log_lines():
    secret = "spk_" + "A1b2" * 10 + "xyz"
    assert secret not in redact(f"Authorization: Bearer {secret}")
    assert "spk_[redacted]" in redact(f"key={secret}")
    assert "whsec_[redacted]" in redact("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
