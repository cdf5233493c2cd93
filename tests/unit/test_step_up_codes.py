"""Step-up codes (billing/step_up.py), the pure parts: six uniform digits, stored only as an HMAC
bound to the portal session and SECRET_KEY, the masked address the dialog names."""

from __future__ import annotations

import pytest

from portal_app.billing import step_up
from portal_app.logredact import redact

pytestmark = pytest.mark.unit


def test_codes_are_six_digits_over_the_whole_range(monkeypatch):
    draws = iter([0, 999_999, 42])
    monkeypatch.setattr(step_up.secrets, "randbelow", lambda n: (n == 1_000_000 or pytest.fail(n)) and next(draws))
    assert [step_up.new_code() for _ in range(3)] == ["000000", "999999", "000042"]


def test_real_codes_look_right():
    codes = {step_up.new_code() for _ in range(200)}
    assert all(len(code) == 6 and code.isdigit() for code in codes) and len(codes) > 150


def test_the_hash_is_bound_to_the_session_and_the_key_and_hides_the_code():
    digest = step_up.code_hash("123456", portal_session_id=7, secret_key="k" * 40)
    assert len(digest) == 64 and "123456" not in digest
    assert digest == step_up.code_hash("123456", portal_session_id=7, secret_key="k" * 40)
    assert digest != step_up.code_hash("123456", portal_session_id=8, secret_key="k" * 40)
    assert digest != step_up.code_hash("123456", portal_session_id=7, secret_key="j" * 40)
    assert digest != step_up.code_hash("123457", portal_session_id=7, secret_key="k" * 40)


@pytest.mark.parametrize(
    ("email", "masked"),
    [("sam@example.com", "s***@example.com"), ("a@b.co", "a***@b.co"), ("", "***"), ("nobody", "***")],
)
def test_masked_email(email, masked):
    assert step_up.masked_email(email) == masked


@pytest.mark.parametrize(
    "line",
    [
        "event payload {'step_up_code': '123456'}",
        'data={"step_up_code":"654321"}',
        "form: step_up_code=111222",
    ],
)
def test_a_typed_code_in_a_logged_event_payload_is_redacted(line):
    assert not any(code in redact(line) for code in ("123456", "654321", "111222"))
