"""UI text in English and Spanish, and babel formatting of dates and money for the portal."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date

from portal_app.billing.money import Money

LANGUAGES = {"en": "English", "es": "Español"}

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "hello": "Hello, {name}",
        "plan": "Plan",
        "status": "Status",
        "next_review_date": "Next review date",
        "next_amount": "Next payment",
        "amount_due": "Amount due",
        "will_charge": "Your card will be charged {amount} on {date}.",
        "access_ends": "Your subscription is canceled. Access ends on {date}.",
        "ended": "Your subscription has ended.",
        "past_due": "Your last payment failed. Update your card to pay {amount} and restore your subscription.",
        "unpaid": "Your subscription is suspended for an unpaid balance of {amount}. Update your card to restore it.",
        "payment_method": "Payment method",
        "card_ending": "{brand} ending in {last4}",
        "expires": "expires {exp}",
        "expired": "expired {exp}",
        "no_card": "No card on file.",
        "edit_payment_method": "Edit payment method",
        "card_number": "Card number",
        "expiry": "Expiry (MM/YY)",
        "cvc": "Security code (CVC)",
        "save_card": "Save card",
        "card_saved": "Your new card is saved.",
        "approve_payment_body": "Your bank asks you to approve the payment of {amount} for invoice {number}.",
        "approve_payment": "Approve payment",
        "payment_not_completed": "The payment is not complete yet. Please try again, or update your card.",
        "card_saved_paid": "Payment of {amount} succeeded — your subscription is active again.",
        "cancel": "Cancel",
        "test_cards_hint": "Test mode: use 4242 4242 4242 4242, any future date and any 3 digits.",
        "threeds_title": "Confirm with your bank",
        "threeds_body": "Your bank asks you to confirm this card. (Simulated bank page: test mode.)",
        "threeds_complete": "Complete authentication",
        "threeds_fail": "Fail authentication",
        "cancel_subscription": "Cancel subscription",
        "cancel_not_allowed": "Your plan can't be canceled here. Please contact {merchant} to make changes.",
        "cancel_title": "Cancel your subscription?",
        "cancel_at_period_end": "You keep access until {date}. You can undo this until then.",
        "cancel_immediately": "Your access ends now.",
        "cancel_reason": "Why are you canceling? (optional)",
        "reason_too_expensive": "Too expensive",
        "reason_not_using": "I'm not using it",
        "reason_missing_features": "Missing features",
        "reason_switching": "Switching to another service",
        "reason_other": "Other",
        "reason_details": "Tell us more (optional)",
        "keep_subscription": "Keep subscription",
        "confirm_cancel": "Cancel subscription",
        "undo_cancel": "Undo cancellation",
        "invoices": "Invoices",
        "date": "Date",
        "number": "Number",
        "amount": "Amount",
        "download_pdf": "Download PDF of invoice {number}",
        "download_year": "Download all {year} invoices ({count})",
        "no_invoices": "No invoices yet.",
        "billing_details": "Billing details",
        "billing_name": "Name on invoices",
        "billing_address": "Address",
        "tax_id": "Tax ID",
        "save": "Save",
        "saved": "Saved. Your next invoices will use these details.",
        "language": "Language",
        "test_mode": "Test mode — no real money moves",
        "s_active": "Active",
        "s_trialing": "Trial",
        "s_past_due": "Past due",
        "s_unpaid": "Unpaid",
        "s_canceled": "Canceled",
        "s_incomplete": "Incomplete",
        "s_paid": "Paid",
        "s_open": "Open",
        "s_void": "Void",
        "s_uncollectible": "Uncollectible",
        "s_draft": "Draft",
        "s_canceling": "Cancels at period end",
    },
    "es": {
        "hello": "Hola, {name}",
        "plan": "Plan",
        "status": "Estado",
        "next_review_date": "Próxima fecha de revisión",
        "next_amount": "Próximo pago",
        "amount_due": "Importe pendiente",
        "will_charge": "Cargaremos {amount} en tu tarjeta el {date}.",
        "access_ends": "Tu suscripción está cancelada. El acceso termina el {date}.",
        "ended": "Tu suscripción ha terminado.",
        "past_due": "Tu último pago falló. Actualiza tu tarjeta para pagar {amount} y reactivar tu suscripción.",
        "unpaid": "Tu suscripción está suspendida por un saldo pendiente de {amount}. Actualiza tu tarjeta para "
        "reactivarla.",
        "payment_method": "Método de pago",
        "card_ending": "{brand} terminada en {last4}",
        "expires": "caduca {exp}",
        "expired": "caducó {exp}",
        "no_card": "No hay ninguna tarjeta guardada.",
        "edit_payment_method": "Editar método de pago",
        "card_number": "Número de tarjeta",
        "expiry": "Caducidad (MM/AA)",
        "cvc": "Código de seguridad (CVC)",
        "save_card": "Guardar tarjeta",
        "card_saved": "Tu nueva tarjeta está guardada.",
        "approve_payment_body": "Tu banco pide que apruebes el pago de {amount} de la factura {number}.",
        "approve_payment": "Aprobar pago",
        "payment_not_completed": "El pago aún no se ha completado. Inténtalo de nuevo o actualiza tu tarjeta.",
        "card_saved_paid": "El pago de {amount} se ha realizado: tu suscripción vuelve a estar activa.",
        "cancel": "Cancelar",
        "test_cards_hint": "Modo de prueba: usa 4242 4242 4242 4242, cualquier fecha futura y 3 dígitos.",
        "threeds_title": "Confirma con tu banco",
        "threeds_body": "Tu banco pide que confirmes esta tarjeta. (Página bancaria simulada: modo de prueba.)",
        "threeds_complete": "Completar autenticación",
        "threeds_fail": "Fallar autenticación",
        "cancel_subscription": "Cancelar suscripción",
        "cancel_not_allowed": "Tu plan no se puede cancelar aquí. Contacta con {merchant} para hacer cambios.",
        "cancel_title": "¿Cancelar tu suscripción?",
        "cancel_at_period_end": "Mantienes el acceso hasta el {date}. Puedes deshacerlo hasta entonces.",
        "cancel_immediately": "Tu acceso termina ahora.",
        "cancel_reason": "¿Por qué cancelas? (opcional)",
        "reason_too_expensive": "Es demasiado caro",
        "reason_not_using": "No lo uso",
        "reason_missing_features": "Le faltan funciones",
        "reason_switching": "Me cambio a otro servicio",
        "reason_other": "Otro motivo",
        "reason_details": "Cuéntanos más (opcional)",
        "keep_subscription": "Mantener suscripción",
        "confirm_cancel": "Cancelar suscripción",
        "undo_cancel": "Deshacer cancelación",
        "invoices": "Facturas",
        "date": "Fecha",
        "number": "Número",
        "amount": "Importe",
        "download_pdf": "Descargar PDF de la factura {number}",
        "download_year": "Descargar todas las facturas de {year} ({count})",
        "no_invoices": "Todavía no hay facturas.",
        "billing_details": "Datos de facturación",
        "billing_name": "Nombre en las facturas",
        "billing_address": "Dirección",
        "tax_id": "NIF / ID fiscal",
        "save": "Guardar",
        "saved": "Guardado. Tus próximas facturas usarán estos datos.",
        "language": "Idioma",
        "test_mode": "Modo de prueba: no se mueve dinero real",
        "s_active": "Activa",
        "s_trialing": "Prueba",
        "s_past_due": "Pago atrasado",
        "s_unpaid": "Impagada",
        "s_canceled": "Cancelada",
        "s_incomplete": "Incompleta",
        "s_paid": "Pagada",
        "s_open": "Pendiente",
        "s_void": "Anulada",
        "s_uncollectible": "Incobrable",
        "s_draft": "Borrador",
        "s_canceling": "Se cancela al final del periodo",
    },
}


def language(code: str | None) -> str:
    """A supported language for a stored preference ('es-MX' -> 'es', unknown -> 'en')."""
    code = (code or "en").split("-")[0].lower()
    return code if code in _TEXT else "en"


def t(lang: str, key: str, **values) -> str:
    text = _TEXT[language(lang)].get(key) or _TEXT["en"][key]
    return text.format(**values) if values else text


def all_text(lang: str) -> dict[str, str]:
    """Every UI string for one language (the portal state holds this for static labels)."""
    return dict(_TEXT[language(lang)])


def fmt_date(value: datetime | None, lang: str) -> str:
    return format_date(value, format="long", locale=language(lang)) if value else ""


def fmt_short_date(value: datetime | None, lang: str) -> str:
    return format_date(value, format="medium", locale=language(lang)) if value else ""


def fmt_money(value: Money | None, lang: str) -> str:
    return value.format(language(lang)) if value is not None else ""
