"""routes.py is the one place that knows the app's URLs: no other module spells a path."""

from __future__ import annotations

import ast
import pathlib

import pytest

from portal_app import routes
from portal_app.billing import portal_grants

APP = pathlib.Path(__file__).resolve().parents[2] / "portal_app"
PATH_PREFIXES = ("/api", "/portal", "/console", "/invalid-link")


def _docstrings(tree: ast.Module) -> set[int]:
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef))]
    return {
        id(node.body[0].value)
        for node in nodes
        if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }


def test_no_module_but_routes_spells_a_path():
    spelled = []
    for path in APP.rglob("*.py"):
        if path.name == "routes.py" and path.parent == APP:
            continue
        tree = ast.parse(path.read_text())
        docstrings = _docstrings(tree)
        spelled += [
            f"{path.relative_to(APP)}:{node.lineno} {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and node.value.startswith(PATH_PREFIXES)
        ]
    assert spelled == []


def test_url_builders_match_the_route_patterns():
    assert routes.invoice_pdf_url(7) == routes.API_INVOICE_PDF.replace("{invoice_id:int}", "7")
    assert routes.invoice_year_zip_url(2026) == routes.API_INVOICE_YEAR_ZIP.replace("{year:int}", "2026")
    assert routes.merchant_logo_url("a b") == routes.API_MERCHANT_LOGO.replace("{slug}", "a%20b")
    assert routes.portal_url("tok").endswith(routes.PORTAL_EXCHANGE.replace("{token}", "tok"))
    assert routes.console_login_error_url("invalid") == "/console?error=invalid"
    assert routes.console_signup_error_url("Use a password.") == "/console/signup?error=Use%20a%20password."


def test_portal_flows_are_the_grants_flows():
    assert routes.PORTAL_FLOWS == portal_grants.FLOWS


def test_a_portal_url_can_open_a_flow_and_refuses_an_unknown_one():
    assert routes.portal_url("tok", flow="payment_method_update").endswith("/portal/tok?flow=payment_method_update")
    assert routes.portal_url("tok").endswith("/portal/tok")
    with pytest.raises(ValueError):
        routes.portal_url("tok", flow="javascript:alert(1)")


def test_the_invalid_link_url_carries_only_known_reasons_and_signs_a_merchants():
    assert routes.portal_invalid_url() == routes.PORTAL_INVALID
    assert routes.portal_invalid_url("ended") == f"{routes.PORTAL_INVALID}?reason=ended"
    signature = routes.invalid_link_signature("deleted", "acme")
    assert routes.portal_invalid_url("deleted", merchant_slug="acme", lang="es") == (
        f"{routes.PORTAL_INVALID}?reason=deleted&m=acme&lang=es&s={signature}"
    )
    assert (
        signature
        != routes.invalid_link_signature("revoked", "acme")
        != routes.invalid_link_signature("deleted", "acmf")
    )
    assert routes.portal_invalid_url("<script>") == routes.PORTAL_INVALID
