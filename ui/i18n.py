"""User-interface text in Chinese and English, read from ui/text.yaml (the one string table).

The switch is settings.ui_language; answers follow the question's language, not this switch. Keys are
dotted paths into the YAML file (`chat.title`); every entry has a `zh` and an `en` text with the same
`{placeholders}`, checked when the table is read.
"""

from __future__ import annotations

import json
import string
from functools import cache
from pathlib import Path

import streamlit as st
import yaml

from ui import state

TEXT_FILE = Path(__file__).with_name("text.yaml")
LANGUAGES = ("zh", "en")


class TextTableError(ValueError):
    """ui/text.yaml is malformed (a developer's error, so the message is in English): names the key."""


# A placeholder named *_zh carries a name the data model has only in Chinese (a table's 中文名): the English
# text may leave it out. One named *_en may be left out of the Chinese text. Every other one is in both.
ONLY_ZH, ONLY_EN = "_zh", "_en"


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def shared(names: set[str]) -> set[str]:
    return {n for n in names if not n.endswith((ONLY_ZH, ONLY_EN))}


def _flatten(node: object, prefix: str, out: dict[str, dict[str, str]]) -> None:
    if not isinstance(node, dict) or not node:
        raise TextTableError(f"{TEXT_FILE.name}: '{prefix or '(root)'}' must be an entry with zh and en, or a group")
    if set(node) & set(LANGUAGES):
        if set(node) != set(LANGUAGES):
            raise TextTableError(f"{TEXT_FILE.name}: '{prefix}' needs exactly zh and en, has {sorted(node)}")
        texts = {lang: node[lang] for lang in LANGUAGES}
        for lang, text in texts.items():
            if not isinstance(text, str) or not text.strip():
                raise TextTableError(f"{TEXT_FILE.name}: the {lang} text of '{prefix}' is empty or not text")
        zh, en = placeholders(texts["zh"]), placeholders(texts["en"])
        if shared(zh) != shared(en) or any(n.endswith(ONLY_EN) for n in zh) or any(n.endswith(ONLY_ZH) for n in en):
            raise TextTableError(
                f"{TEXT_FILE.name}: '{prefix}' has different placeholders, "
                f"zh {sorted(placeholders(texts['zh']))} and en {sorted(placeholders(texts['en']))}"
            )
        out[prefix] = texts
        return
    for name, child in node.items():
        _flatten(child, f"{prefix}.{name}" if prefix else str(name), out)


@cache
def table() -> dict[str, dict[str, str]]:
    """Every key of the string table with its texts, {"chat.title": {"zh": …, "en": …}}."""
    out: dict[str, dict[str, str]] = {}
    _flatten(yaml.safe_load(TEXT_FILE.read_text(encoding="utf-8")), "", out)
    return out


def language() -> str:
    return state.settings().ui_language


def has(key: str) -> bool:
    return key in table()


def t(key: str, **values: object) -> str:
    """The text of `key` in the interface language, with {placeholders} filled from `values`."""
    text = table()[key][language()]
    return text.format(**values) if values else text


# Streamlit (1.67) writes a few words of its own widgets in English and has no option or locale setting for them
# (streamlit/streamlit#13500 asks for one). In the Chinese interface they are replaced by CSS sent with st.html
# (style-only content goes to the page's event container and takes no space): each rule hides Streamlit's text
# node and puts ours in an ::after box. The selectors are Streamlit's data-testid attributes and, for a file
# uploader, the documented `st-key-<key>` class of the element with that key.
INSTRUCTIONS = '[data-testid="{widget}"] [data-testid="InputInstructions"] > span:first-child'
UPLOADER = ".st-key-{key} [data-testid=stFileUploaderDropzone]"


def _css_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _replace(selector: str, text: str, size: str) -> str:
    return f"{selector} {{ font-size: 0; }} {selector}::after {{ content: {_css_text(text)}; font-size: {size}; }}"


def localise_widgets() -> None:
    """Streamlit's 'Press Enter to apply' under a text or number box, in the interface language (app.py)."""
    if language() == "en":
        return
    rules = [
        _replace(INSTRUCTIONS.format(widget=widget), t("streamlit.enter"), "0.75rem")
        for widget in ("stTextInput", "stNumberInput")
    ]
    rules.append(_replace(INSTRUCTIONS.format(widget="stTextArea"), t("streamlit.ctrl_enter"), "0.75rem"))
    st.html("<style>" + "\n".join(rules) + "</style>")


def file_uploader(label: str, types: list[str], key: str, **options):
    """st.file_uploader whose own button and size hint are in the interface language as well."""
    if language() != "en":
        limit = options.get("max_upload_size") or st.get_option("server.maxUploadSize")
        hint = t("streamlit.upload_limit", size=limit, types=t("sep.list").join(kind.upper() for kind in types))
        box = UPLOADER.format(key=key)
        st.html(
            "<style>"
            + _replace(
                f"{box} [data-testid=stBaseButton-secondary] [data-testid=stMarkdownContainer] p",
                t("streamlit.upload"),
                "0.875rem",
            )
            + _replace(f"{box} [data-testid=stFileUploaderDropzoneInstructions] span", hint, "0.875rem")
            + "</style>"
        )
    return st.file_uploader(label, type=types, key=key, **options)
