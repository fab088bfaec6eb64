"""German is kept complete: every string the plugin marks for translation, in its Python code
and its templates, has a German translation in the catalog, and none is marked fuzzy.

Extraction uses Babel (installed with pretix), so the test needs no GNU gettext."""
import pathlib
import re

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "pretix_desk"
CATALOG = PACKAGE / "locale" / "de" / "LC_MESSAGES" / "django.po"
KEYWORDS = {
    "_": None, "gettext": None, "gettext_lazy": None, "ngettext": (1, 2), "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2), "pgettext_lazy": ((1, "c"), 2),
}
TEMPLATE_TRANS = re.compile(r"""\{%\s*trans(?:late)?\s+(["'])(.*?)\1(?:\s+context\s+(["'])(.*?)\3)?""")
TEMPLATE_BLOCK = re.compile(r"\{%\s*blocktrans(?:late)?([^%]*)%\}(.*?)\{%\s*endblocktrans(?:late)?\s*%\}", re.S)


def _python_messages():
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for _lineno, message, _comments, context in extract_from_file("python", str(path), keywords=KEYWORDS):
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                yield (context, msgid), f"{path.relative_to(PACKAGE)}:{_lineno}"


def _template_messages():
    for path in PACKAGE.rglob("templates/**/*.html"):
        text = path.read_text()
        for m in TEMPLATE_TRANS.finditer(text):
            yield (m.group(4), m.group(2)), str(path.relative_to(PACKAGE))
        for m in TEMPLATE_BLOCK.finditer(text):
            body = re.split(r"\{%\s*plural\s*%\}", m.group(2))[0]  # the singular is the msgid
            if "trimmed" in m.group(1):
                body = " ".join(line.strip() for line in body.strip().splitlines() if line.strip())
            body = re.sub(r"\{\{\s*(\w+)\s*\}\}", r"%(\1)s", body)
            context = re.search(r"""context\s+(["'])(.*?)\1""", m.group(1))
            yield (context.group(2) if context else None, body), str(path.relative_to(PACKAGE))


def test_every_string_has_a_german_translation():
    with CATALOG.open("rb") as f:
        catalog = read_po(f)
    translated = {}
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        text = message.string[0] if isinstance(message.string, tuple) else message.string
        translated[(message.context, msgid)] = bool(text) and not message.fuzzy
    wanted = dict(_python_messages())
    wanted.update(_template_messages())
    missing = sorted(f"{where}: {msgid!r}" for (ctx, msgid), where in wanted.items()
                     if not translated.get((ctx, msgid)))
    assert not missing, "Not translated to German:\n" + "\n".join(missing)
