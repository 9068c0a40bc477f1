"""The exercise checkers speak Chinese when asked (dropkey_lib.i18n, gettext), and the Chinese catalog
dropkey_lib/locale/zh_CN/LC_MESSAGES/dropkey_lib.po holds exactly the library's messages, all translated.

English stays the default, with the messages tests/test_exercises.py checks: the English notebooks' outputs depend
on them. How to update the catalog: the docstring of dropkey_lib/i18n.py.
"""

import ast
import re
import string
import subprocess
import sys
from pathlib import Path

import polib
import pytest
import yaml

from dropkey_lib import exercises, i18n

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "dropkey_lib"
CATALOG = PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "dropkey_lib"  # .po and .mo
HAN = re.compile(r"[\u4e00-\u9fff]")  # CJK unified ideographs: the text is Chinese


@pytest.fixture(autouse=True)
def english_afterwards():
    """The language is one setting for the whole process: every test leaves it at the default, English."""
    yield
    i18n.use_language("en")


def not_attempted(scores, drop_ratio):
    raise NotImplementedError


def linear_decay(step, total_steps, warmup_steps, base_lr):
    """A wrong answer of tests/test_exercises.py: the warm-up is right, but then the rate decays linearly."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    return base_lr * (1 - (step - warmup_steps) / (total_steps - warmup_steps))


def library_messages() -> dict[str, list[str]]:
    """The msgids of the library's source, as `pybabel extract` finds them: the literal argument of every `_(...)`
    call, with the places it appears ("path:line")."""
    messages: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if is_translation_call(node) and node.args and isinstance(node.args[0], ast.Constant):
                place = f"{path.relative_to(ROOT)}:{node.lineno}"
                messages.setdefault(node.args[0].value, []).append(place)
    return messages


def is_translation_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"


def is_one_string_literal(call: ast.Call) -> bool:
    return (
        len(call.args) == 1
        and not call.keywords
        and isinstance(call.args[0], ast.Constant)
        and isinstance(call.args[0].value, str)
    )


def catalog() -> polib.POFile:
    return polib.pofile(str(CATALOG.with_suffix(".po")))


def placeholders(message: str) -> set[tuple[str, str | None, str]]:
    """The `str.format` fields of a message: (name, conversion, format spec) each."""
    return {(name, conversion, spec) for _, name, spec, conversion in string.Formatter().parse(message) if name}


# ----------------------------------------------------------------------------------------------------------------
# Switching the language


def test_english_is_the_default():
    code = "from dropkey_lib import i18n; print(i18n.language(), i18n.gettext('Return an int.'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout == "en Return an int.\n"


def test_after_use_language_zh_CN_a_not_attempted_checker_prints_chinese(capsys):
    i18n.use_language("zh_CN")
    exercises.check_dropkey(not_attempted)
    out = capsys.readouterr().out
    assert i18n.language() == "zh_CN"
    assert out.startswith("check_dropkey：尚未作答。"), out
    assert "not_attempted" in out and "`raise NotImplementedError`" in out
    assert "not attempted" not in out


def test_after_use_language_zh_CN_a_failing_checkers_assertion_error_is_chinese():
    i18n.use_language("zh_CN")
    with pytest.raises(AssertionError) as error:
        exercises.check_learning_rate(linear_decay)
    message = str(error.value)
    assert message.startswith(
        "linear_decay(11, total_steps=100, warmup_steps=10, base_lr=0.001) = 0.0009888888889，应为 0.0009996954135："
        "这是线性衰减。\n预热之后，学习率沿余弦曲线下降"
    ), message
    assert "linear decay" not in message and "expected" not in message


def test_use_language_en_restores_english(capsys):
    i18n.use_language("zh_CN")
    i18n.use_language("en")
    exercises.check_dropkey(not_attempted)
    assert i18n.language() == "en"
    assert capsys.readouterr().out.startswith("check_dropkey: not attempted yet. Replace `raise NotImplementedError`")


def test_an_unknown_language_raises_value_error_naming_it_and_the_available_ones():
    with pytest.raises(ValueError, match=r"unknown language 'fr'.*en, zh_CN"):
        i18n.use_language("fr")
    assert i18n.language() == "en"


# ----------------------------------------------------------------------------------------------------------------
# The catalog


def test_every_translatable_message_is_a_string_literal():
    """An f-string or a variable inside `_()` cannot be extracted (nor looked up): use `_("{x}").format(x=...)`."""
    not_literal = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if is_translation_call(node) and not is_one_string_literal(node)
    ]
    assert not not_literal, f"_() takes one string literal: {not_literal}"


def test_the_catalog_holds_every_message_of_the_library_and_no_other():
    source = library_messages()
    catalogued = {entry.msgid for entry in catalog()}
    missing = {message: places for message, places in source.items() if message not in catalogued}
    obsolete = sorted(catalogued - set(source))
    assert not missing, f"messages missing from {CATALOG}.po (see dropkey_lib/i18n.py): {missing}"
    assert not obsolete, f"messages in {CATALOG}.po that the library no longer has: {obsolete}"


def test_no_catalog_entry_is_fuzzy_untranslated_or_obsolete():
    po = catalog()
    assert not po.fuzzy_entries(), [entry.msgid for entry in po.fuzzy_entries()]
    assert not po.untranslated_entries(), [entry.msgid for entry in po.untranslated_entries()]
    assert not po.obsolete_entries(), [entry.msgid for entry in po.obsolete_entries()]


def test_every_translation_is_chinese():
    english = [entry.msgid for entry in catalog() if not HAN.search(entry.msgstr)]
    assert not english, f"translations without a Chinese character: {english}"


def test_every_translation_keeps_the_placeholders_of_its_english_message():
    different = [
        (entry.msgid, entry.msgstr) for entry in catalog() if placeholders(entry.msgstr) != placeholders(entry.msgid)
    ]
    assert not different, f"(msgid, msgstr) with other {{placeholders}}: {different}"


def test_the_committed_mo_is_the_po_compiled(tmp_path):
    compiled = tmp_path / "dropkey_lib.mo"
    catalog().save_as_mofile(str(compiled))
    assert CATALOG.with_suffix(".mo").read_bytes() == compiled.read_bytes(), (
        f"{CATALOG}.mo is stale: compile the .po again (dropkey_lib/i18n.py says how)"
    )


def test_no_translation_uses_a_rendering_the_glossary_rejects():
    terms = yaml.safe_load((ROOT / "docs" / "zh" / "terms.yaml").read_text(encoding="utf-8"))
    rejected = [(term["en"], bad) for term in terms for bad in term.get("avoid", [])]
    used = [(entry.msgstr, term, bad) for entry in catalog() for term, bad in rejected if bad in entry.msgstr]
    assert not used, f"(translation, term, rejected rendering): {used}"
