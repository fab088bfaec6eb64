"""Compiles pretix_desk's .po catalogs to .mo with Babel (installed with pretix), so a
checkout needs no GNU gettext to show German."""
import pathlib

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

root = pathlib.Path(__file__).resolve().parent.parent / "pretix_desk" / "locale"
for po_path in root.glob("*/LC_MESSAGES/*.po"):
    mo_path = po_path.with_suffix(".mo")
    if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
        continue
    with po_path.open("rb") as f:
        catalog = read_po(f)
    with mo_path.open("wb") as f:
        write_mo(f, catalog)
