"""The language of the exercise checkers and the training dashboard: English (the default) or Chinese, with gettext.

A Chinese notebook starts with

    from dropkey_lib import i18n

    i18n.use_language("zh_CN")  # 练习检查器用中文给出反馈

and from then on every line a checker prints and every error it raises is in Chinese, and so are the labels and
messages of a `widgets.TrainingDashboard` created afterwards (its plots stay English); `use_language("en")` returns
to English. The language is one setting for the whole process, and messages are translated when a checker runs, so
switching works at any point in a session.

How the translation works: the library's modules write each message in English, wrapped as
`_("... {placeholder} ...").format(placeholder=...)` (named `str.format` placeholders, never an f-string, whose text
could not be looked up). The English text is the key (msgid) of the catalog
`dropkey_lib/locale/<language>/LC_MESSAGES/dropkey_lib.po`, which gives each key its translation (msgstr); gettext
reads the compiled `dropkey_lib.mo` beside it. English needs no catalog: its messages are the keys themselves.

Adding or changing a message (or a language):

1. Extract the messages from the library: `pybabel extract -o dropkey_lib.pot --add-location=file dropkey_lib`
   (Babel looks for `_(...)` by default; tests/test_i18n.py does the same extraction with `ast`).
2. Merge them into the catalog: `pybabel update -i dropkey_lib.pot -d dropkey_lib/locale -D dropkey_lib
   -l zh_CN --no-fuzzy-matching --ignore-obsolete` (for a new language, `pybabel init` instead, and add it to
   LANGUAGES), or edit the .po with polib. A new or changed message arrives with an empty msgstr: translate it,
   keep its `{placeholders}`, and use the terms of docs/zh/terms.yaml (column zh, never a rendering it avoids).
3. Compile, deterministically: `python -c "import polib; p = 'dropkey_lib/locale/zh_CN/LC_MESSAGES/dropkey_lib';
   polib.pofile(p + '.po').save_as_mofile(p + '.mo')"`, and commit both files.

tests/test_i18n.py fails until the catalog holds exactly the library's messages, all translated, none fuzzy, with
the same placeholders, and the committed .mo is the compiled .po.
"""

from __future__ import annotations

from gettext import NullTranslations, translation
from pathlib import Path

DOMAIN = "dropkey_lib"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "zh_CN")  # "en" first: the default, and the language the messages are written in

_language = "en"
_translations = NullTranslations()


def use_language(language: str) -> None:
    """Make the checkers speak `language` from now on: "en" (English, the default) or "zh_CN" (Chinese).

    Raises ValueError for any other language, and FileNotFoundError when a catalog is missing from the package.
    """
    global _language, _translations
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: the available languages are {', '.join(LANGUAGES)}")
    if language == "en":
        _translations = NullTranslations()  # the messages themselves
    else:
        # No fallback: a catalog missing from the package is an error, not silent English. A message that the
        # catalog lacks (a new one, not yet translated) comes back as its English msgid.
        _translations = translation(DOMAIN, localedir=LOCALE_DIR, languages=[language])
    _language = language


def language() -> str:
    """The language the checkers speak now: one of LANGUAGES."""
    return _language


def gettext(message: str) -> str:
    """`message`, an English msgid, in the current language (English when the catalog does not have it)."""
    return _translations.gettext(message)


_ = gettext  # the conventional name, which the library's modules import and `pybabel extract` looks for
