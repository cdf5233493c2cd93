"""<html lang> and the document title follow the page's language: one component for every page
that speaks the subscriber's or the reader's language (portal, invalid-link page, signup page).

Reflex writes <html lang="en"> and a static <title> at build time; this renders nothing and keeps
document.documentElement.lang and document.title equal to its state vars on every change (first
load, the portal's language switch), so screen readers pronounce and browsers translate correctly."""

from __future__ import annotations

import reflex as rx
from reflex_base.vars import VarData
from reflex_base.vars.base import Var
from reflex_components_core.base.fragment import Fragment

from portal_app import i18n


class DocumentLanguage(Fragment):
    """Sets <html lang> and document.title from two vars (values outside LANGUAGES read as "en")."""

    lang: Var[str]
    title: Var[str]

    def _exclude_props(self) -> list[str]:
        return [*super()._exclude_props(), "lang", "title"]

    def add_hooks(self) -> list[str | Var]:
        lang, title = Var.create(self.lang), Var.create(self.title)
        known = Var.create(list(i18n.LANGUAGES))
        effect = (
            f"useEffect(() => {{ const lang = {lang!s}; const title = {title!s};"
            f" document.documentElement.lang = {known!s}.includes(lang) ? lang : 'en';"
            " if (title) { document.title = title; } "
            f"}}, [{lang!s}, {title!s}]);"
        )
        return [
            Var(
                effect,
                _var_data=VarData.merge(
                    VarData(imports={"react": ["useEffect"]}),
                    lang._get_all_var_data(),
                    title._get_all_var_data(),
                ),
            )
        ]


def document_language(lang: Var[str] | str, title: Var[str] | str) -> rx.Component:
    """Keep <html lang> and the title in step with `lang` and `title` (state vars or literals)."""
    return DocumentLanguage.create(lang=lang, title=title)


def page_title(page: str, lang: Var[str]) -> Var[str]:
    """A page's translated title (i18n.page_titles) picked by a state's language var, in the browser."""
    return Var.create(i18n.page_titles(page))[lang].to(str)
