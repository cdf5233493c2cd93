"""The language-leak detector itself: it must catch English and "tú", and pass formal Spanish."""

from __future__ import annotations

import pytest

from tests.language_leaks import english_leaks, informal_spanish

pytestmark = pytest.mark.unit


def test_it_catches_a_catalogue_sentence_and_a_hard_coded_word():
    assert english_leaks("Factura 2026-0001 · Your card will be charged 29 € el 1 de enero")
    assert "Loading" in english_leaks("Cargando… Loading")


def test_formal_spanish_and_allowed_data_pass():
    text = "Hola, Zoë. Su tarjeta Visa terminada en 4242 se cargará el 1 de enero. Plan Basic Monthly · zoe@example.com"
    assert english_leaks(text, allow=("Basic Monthly",)) == []
    assert informal_spanish(text) == []


@pytest.mark.parametrize("text", ["Actualiza tu tarjeta", "Puedes cancelar cuando quieras", "Te enviamos un enlace"])
def test_it_catches_informal_spanish(text):
    assert informal_spanish(text)
