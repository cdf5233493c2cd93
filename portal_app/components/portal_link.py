"""Show and copy a subscriber's portal link without it ever entering Reflex state.

The browser fetches the link from our authorized HTTP route (api/links.py) at the moment the
merchant clicks, and puts it into the read-only field or the clipboard itself. Only an outcome code
("shown", "copied", "gone", "signed_out", "error") goes back to the page's handler, for the toast.
"""

from __future__ import annotations

import reflex as rx

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
