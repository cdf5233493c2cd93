"""Show and copy a subscriber's portal link without it ever entering Reflex state.

The browser fetches the link from our authorized HTTP route (api/links.py) at the moment the
merchant clicks, and puts it into the read-only field or the clipboard itself. Only an outcome code
("shown", "copied", "gone", "signed_out", "error") goes back to the page's handler, for the toast.
"""

from __future__ import annotations

import reflex as rx

from portal_app.components.console_layout import TAP, section
from portal_app.components.profile_parts import confirm_dialog

FIELD_ID = "portal-url"

# `link` resolves to the URL, or rejects with an outcome code; the clipboard is written inside the
# click's user activation (a ClipboardItem taking a promise), where browsers require it.
_FETCH = """
const fetchLink = () => fetch(%(api)s, {credentials: 'same-origin', cache: 'no-store'}).then(async (r) => {
  if (r.status === 401) throw new Error('signed_out');
  if (!r.ok) throw new Error('gone');
  return (await r.json()).url;
});
const outcomeOf = (e) => ['signed_out', 'gone'].includes(e && e.message) ? e.message : 'error';
"""

_SHOW = """(async () => {%(fetch)s
  try {
    const url = await fetchLink();
    const field = document.getElementById('%(field)s');
    if (field) field.value = url;
    return 'shown';
  } catch (e) { return outcomeOf(e); }
})()"""

_COPY = """(async () => {%(fetch)s
  let failure = null;
  const link = fetchLink().catch((e) => { failure = outcomeOf(e); throw e; });
  try {
    if (window.ClipboardItem && navigator.clipboard.write) {
      const blob = link.then((url) => new Blob([url], {type: 'text/plain'}));
      await navigator.clipboard.write([new ClipboardItem({'text/plain': blob})]);
    } else {
      await navigator.clipboard.writeText(await link);
    }
    return 'copied';
  } catch (e) { return failure || 'error'; }
})()"""


def _script(template: str, api_url: rx.Var[str]) -> str:
    """The script with the route's path in it (a path of digits and letters, so quoting is enough)."""
    return template % {"fetch": _FETCH % {"api": f"'{api_url}'"}, "field": FIELD_ID}


def show_link(api_url: rx.Var[str], on_outcome) -> rx.event.EventSpec:
    """Fetch the link into the field FIELD_ID; `on_outcome(code)` says how it went."""
    return rx.call_script(_script(_SHOW, api_url), callback=on_outcome)


def copy_link(api_url: rx.Var[str], on_outcome) -> rx.event.EventSpec:
    """Fetch the link straight into the clipboard; `on_outcome(code)` says how it went."""
    return rx.call_script(_script(_COPY, api_url), callback=on_outcome)


def link_field(version: rx.Var[int]) -> rx.Component:
    """The read-only field the link is shown in; a new `version` (a regenerated link) empties it."""
    return rx.el.input(
        id=FIELD_ID,
        key=version,
        read_only=True,
        placeholder="Hidden. Show or copy the link when you need it.",
        data_testid="portal-url",
        style={
            "width": "100%",
            "min_height": "40px",
            "padding": "0 12px",
            "border": "1px solid var(--gray-7)",
            "border_radius": "var(--radius-2)",
            "font_size": "14px",
            "background": "var(--gray-2)",
        },
    )


_WIDE = rx.breakpoints(initial="100%", md="auto")


def _regenerate_dialog(P) -> rx.Component:
    """Regenerating kills every copy of the link at once: the dialog says so, and offers to email the
    new link right away (the portal-link email) besides regenerating only."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Regenerate the Customer Portal URL?"),
            rx.alert_dialog.description(
                "The current link stops working at once: links already emailed or shared (invitations, "
                "payment reminders, messages you sent) will open an “invalid link” page, also in browsers "
                "that have it open. Email the new link now, or share it yourself afterwards.",
                size="2",
            ),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button(
                        "Keep the current link",
                        variant="soft",
                        color_scheme="gray",
                        size="3",
                        min_height=TAP,
                        width=_WIDE,
                        white_space="normal",
                    )
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Regenerate",
                        variant="soft",
                        color_scheme="orange",
                        high_contrast=True,
                        size="3",
                        min_height=TAP,
                        width=_WIDE,
                        on_click=P.regenerate(False),
                    )
                ),
                rx.alert_dialog.action(
                    rx.button(
                        rx.icon("mail", size=16, aria_hidden="true"),
                        "Regenerate and email the new link",
                        size="3",
                        min_height=TAP,
                        height="auto",
                        padding_y="10px",
                        width=_WIDE,
                        white_space="normal",
                        on_click=P.regenerate(True),
                    )
                ),
                # Phones: one button a line, the emailing one on top.
                flex_direction=rx.breakpoints(initial="column-reverse", md="row"),
                gap="12px",
                justify="end",
                wrap="wrap",
                margin_top="16px",
            ),
            max_width="520px",
        ),
        open=P.confirm == "regenerate",
        on_open_change=P.close_confirm,
    )


def portal_link_section(P) -> rx.Component:
    """The profile's "Customer Portal" card: the Customer Portal URL (shown or copied on demand),
    invitation, regenerate (its dialog) and delete. `P` is the profile page's state."""
    return section(
        rx.cond(
            P.has_link,
            rx.vstack(
                rx.el.label("Customer Portal URL", html_for=FIELD_ID, font_weight="500", font_size="14px"),
                link_field(P.link_version),
                rx.text(
                    rx.cond(P.last_visit != "", "Last opened " + P.last_visit, "Not opened yet."),
                    size="2",
                    color_scheme="gray",
                ),
                spacing="1",
                width="100%",
            ),
            rx.text(
                rx.cond(
                    P.deleted,
                    "The portal is closed: the subscription was deleted.",
                    "No live portal link. Regenerate one to share it.",
                ),
                color_scheme="gray",
                data_testid="portal-url-none",
            ),
        ),
        rx.flex(
            rx.button(
                rx.icon("copy", size=16, aria_hidden="true"),
                "Copy link",
                size="3",
                min_height=TAP,
                on_click=copy_link(P.link_api_url, P.link_outcome),
                disabled=~P.has_link,
            ),
            rx.button(
                rx.icon("eye", size=16, aria_hidden="true"),
                "Show link",
                size="3",
                min_height=TAP,
                variant="soft",
                on_click=show_link(P.link_api_url, P.link_outcome),
                disabled=~P.has_link,
            ),
            rx.button(
                rx.icon("mail", size=16, aria_hidden="true"),
                "Send invitation email",
                size="3",
                min_height=TAP,
                variant="soft",
                on_click=P.send_invitation,
                disabled=P.deleted,
            ),
            rx.button(
                rx.icon("refresh_cw", size=16, aria_hidden="true"),
                "Regenerate link",
                size="3",
                min_height=TAP,
                variant="soft",
                color_scheme="orange",
                on_click=P.set_confirm("regenerate"),
                disabled=P.deleted,
            ),
            rx.cond(
                P.has_subscription,
                rx.button(
                    rx.icon("trash_2", size=16, aria_hidden="true"),
                    "Delete subscription",
                    size="3",
                    min_height=TAP,
                    variant="soft",
                    color_scheme="red",
                    on_click=P.set_confirm("delete"),
                ),
            ),
            spacing="3",
            wrap="wrap",
        ),
        _regenerate_dialog(P),
        confirm_dialog(
            "Delete this subscription?",
            "It ends now, unpaid invoices are voided and the portal link stops working. This can't be undone.",
            "Delete subscription",
            P.delete_subscription,
            open_=P.confirm == "delete",
            on_open_change=P.close_confirm,
        ),
        title="Customer Portal",
    )
