"""The gettext catalogue: complete in Spanish, placeholders intact, current with the code and with the
compiled .mo files; one language normaliser; the text functions the edges call."""

from __future__ import annotations

import ast
import gettext
import os
import pathlib
import re

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from portal_app import i18n
from portal_app.i18n import catalogue
from portal_app.i18n.audit import AUDIT_TITLES
from portal_app.i18n.card_form_text import CARD_FORM_TEXT
from portal_app.i18n.declines import CARD_ERRORS, DECLINE_MESSAGES, DECLINE_REASONS, REASON_ALIASES
from portal_app.i18n.payments import PAYMENT_OUTCOMES
from portal_app.i18n.portal_text import PORTAL_TEXT
from tests.language_leaks import english_leaks, informal_spanish

ROOT = pathlib.Path(__file__).resolve().parents[2]
APP = ROOT / "portal_app"
LOCALES = catalogue.LOCALE_DIR
POT = LOCALES / "messages.pot"

# The one placeholder style of msgids and translations: %(name)s. Anything else with % or braces is a slip.
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
STRAY = re.compile(r"%(?!\(\w+\)s)|\{\w*\}")


def read_catalog(path: pathlib.Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source)


def messages(catalog: Catalog) -> dict[tuple[str | None, str], str]:
    return {(m.context, m.id): m.string for m in catalog if m.id}


def placeholder_problems(catalog: Catalog) -> list[str]:
    """Translations that are missing, fuzzy, or whose placeholders differ from their msgid's."""
    problems = []
    for message in catalog:
        if not message.id:
            continue
        where = f"{message.context}: {message.id!r}"
        if not message.string:
            problems.append(f"untranslated {where}")
        elif message.fuzzy:
            problems.append(f"fuzzy {where}")
        elif sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string)):
            problems.append(f"placeholders differ in {where} -> {message.string!r}")
        for text in (message.id, message.string):
            if STRAY.search(PLACEHOLDER.sub("", text)):
                problems.append(f"not a %(name)s placeholder in {text!r}")
    return problems


def extracted_from_code() -> set[tuple[str | None, str]]:
    """The msgids `make messages-extract` would find: babel.cfg applied to portal_app/."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    return {(context, message) for _f, _l, message, _c, context in extract_from_dir(APP, method_map, options_map)}


# --------------------------------------------------------------------------- the catalogue files


def test_every_message_has_a_spanish_translation_with_the_same_placeholders():
    assert placeholder_problems(read_catalog(catalogue.po_path("es"))) == []


def test_the_check_catches_a_dropped_or_renamed_placeholder_and_a_missing_translation():
    catalog = Catalog(locale="es")
    catalog.add("Hello, %(name)s", "Hola", context="portal")
    catalog.add("Pay %(amount)s", "Pague %(importe)s", context="email")
    catalog.add("Total", "", context="invoice")
    catalog.add("Page %(page)s", "Página {page}", context="invoice")
    problems = placeholder_problems(catalog)
    assert len(problems) == 5, problems  # the last one twice: placeholders differ, and a {name} slipped in


def test_english_is_the_source_language():
    """English msgstrs stay empty (gettext shows the msgid); a filled one must keep the placeholders."""
    english = read_catalog(catalogue.po_path("en"))
    for message in english:
        if message.id and message.string:
            assert sorted(PLACEHOLDER.findall(message.id)) == sorted(PLACEHOLDER.findall(message.string))


def test_the_catalogue_is_current_with_the_code():
    """A text added or changed in the code without `make messages-update` (and a translation) fails here."""
    in_code = extracted_from_code()
    assert in_code, "nothing extracted: babel.cfg or the keywords are broken"
    for path in (POT, catalogue.po_path("en"), catalogue.po_path("es")):
        in_file = set(messages(read_catalog(path)))
        assert in_file == in_code, f"{path.relative_to(ROOT)}: run make messages-update\n" + "\n".join(
            f"{'missing' if key in in_code else 'obsolete'}: {key}" for key in sorted(in_file ^ in_code, key=str)
        )


def test_every_table_entry_is_in_the_catalogue():
    """The tables' markers are what extraction sees; their msgids must also be the ones looked up."""
    known = set(messages(read_catalog(catalogue.po_path("es"))))
    tables = {
        "portal": PORTAL_TEXT.values(),
        "decline": DECLINE_MESSAGES.values(),
        "decline reason": DECLINE_REASONS.values(),
        "card error": CARD_ERRORS.values(),
        "audit": AUDIT_TITLES.values(),
        "payment": PAYMENT_OUTCOMES.values(),
    }
    missing = [(context, m) for context, values in tables.items() for m in values if (context, m) not in known]
    assert missing == []
    assert set(REASON_ALIASES.values()) <= set(DECLINE_REASONS)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_compiled_catalogue_matches_its_po_file(lang):
    """The .mo that `make messages-compile` built says what the .po says (a stale one is not loaded)."""
    po = catalogue.po_path(lang)
    mo = po.with_suffix(".mo")
    if not mo.is_file() or mo.stat().st_mtime < po.stat().st_mtime:
        pytest.skip("no current .mo (make messages-compile); the .po is compiled in memory")
    with mo.open("rb") as compiled:
        from_mo = gettext.GNUTranslations(compiled)
    from_po = catalogue.compile_po(po)
    for context, message in messages(read_catalog(po)):
        assert from_mo.pgettext(context, message) == from_po.pgettext(context, message), message


def test_without_a_current_mo_the_po_is_compiled_in_memory(tmp_path, monkeypatch):
    """Fresh clone (no .mo) or a .po edited after compiling: the .po is what gets used."""
    folder = tmp_path / "es" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    catalog_text = catalogue.po_path("es").read_text()
    (folder / "messages.po").write_text(catalog_text)
    monkeypatch.setattr(catalogue, "LOCALE_DIR", tmp_path)
    catalogue.translation.cache_clear()
    try:
        assert catalogue.translation("es").pgettext("invoice", "Receipt") == "Recibo"
        # A stale .mo (older than its .po) is ignored.
        (folder / "messages.mo").write_bytes(b"not a catalogue")
        os.utime(folder / "messages.mo", (0, 0))
        catalogue.translation.cache_clear()
        assert catalogue.translation("es").pgettext("invoice", "Receipt") == "Recibo"
    finally:
        catalogue.translation.cache_clear()


def test_i18n_imports_nothing_of_the_app_but_money():
    """billing/ imports i18n, so i18n importing billing (beyond money) would make a cycle."""
    allowed = ("portal_app.i18n", "portal_app.billing.money")
    for path in (APP / "i18n").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("portal_app"):
                assert node.module.startswith(allowed), f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("portal_app") for a in node.names), path.name


# --------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("code", "lang", "locale"),
    [
        ("es", "es", "es"),
        ("es-MX", "es", "es_MX"),
        ("es_AR", "es", "es_AR"),
        ("ES", "es", "es"),
        ("en-GB", "en", "en_GB"),
        ("es-XX", "es", "es"),  # not a locale babel knows: the language still holds
        ("fr", "en", "en"),
        ("fr-FR", "en", "en"),
        ("", "en", "en"),
        (None, "en", "en"),
    ],
)
def test_one_language_normaliser(code, lang, locale):
    assert i18n.language(code) == lang
    assert i18n.babel_locale(code) == locale


def test_the_portal_keeps_calling_t_with_keys():
    assert i18n.t("es", "hello", name="Ana") == "Hola, Ana"
    assert i18n.t("es-MX", "download_year", year=2026, count=3) == "Descargar todas las facturas de 2026 (3)"
    assert i18n.t("fr", "s_past_due") == "Past due"
    assert i18n.t("es", "cancel") == "Cancelar"
    with pytest.raises(KeyError):
        i18n.t("en", "no_such_key")
    texts = i18n.all_text("es")
    assert set(texts) == set(PORTAL_TEXT) | set(CARD_FORM_TEXT) and texts["invoices"] == "Historial de facturas"


def test_every_portal_key_reads_in_spanish_differently_unless_it_is_the_same_word():
    same_in_both = {"plan"}
    english, spanish = i18n.all_text("en"), i18n.all_text("es")
    assert [k for k in PORTAL_TEXT if english[k] == spanish[k] and k not in same_in_both] == []


def test_decline_messages_by_code_and_language():
    assert i18n.decline_message("insufficient_funds", "en").startswith(
        "Your bank declined the payment for insufficient"
    )
    assert i18n.decline_message("stolen_card", "es") == "Esta tarjeta no se puede usar. Use otra tarjeta."
    assert i18n.decline_message("something_new", "es") == i18n.decline_message("", "es")
    assert i18n.decline_message(None, "en").startswith("Your bank declined the payment.")
    assert i18n.decline_reason("fraudulent", "es") == i18n.decline_reason("unusable", "es")
    assert i18n.decline_reason("nope", "en") == "Your bank declined the payment."
    assert i18n.card_error("expired_card", "es") == "Su tarjeta ha caducado."
    assert i18n.card_error("mystery", "en") == "Your card was declined."


def test_audit_titles_by_kind_and_language():
    assert i18n.audit_title("invoice_voided") == "Invoice voided"
    assert i18n.audit_title("invoice_voided", "es") == "Factura anulada"
    assert i18n.audit_title("plan_price_changed", "es") == "Plan price changed"  # unknown kinds read as words


def test_payment_messages_by_outcome_and_language():
    paid = i18n.payment_message("succeeded", "es", amount="29,00 €", number="ACME-1")
    assert paid == "Hemos recibido el pago de 29,00 € de la factura ACME-1. ¡Gracias!"
    assert i18n.payment_message("already_paid", "en") == "This invoice is already paid."
    assert i18n.payment_message("declined", "es", decline_code="expired_card") == i18n.decline_message(
        "expired_card", "es"
    )
    assert i18n.payment_message("requires_action", "en", decline_code="authentication_required").startswith(
        "Your bank asks you to confirm this payment."
    )
    with pytest.raises(KeyError):
        i18n.payment_message("exploded", "en")


def test_the_portal_speaks_formal_spanish_without_english():
    text = " | ".join(i18n.all_text("es").values())
    assert informal_spanish(text) == []
    assert english_leaks(text) == []
