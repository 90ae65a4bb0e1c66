"""HTML chat exports read with lxml: one parsed document, with errors that name the file.

lxml's HTML parser is lenient (a truncated or damaged page still yields its messages), fast, and already what the
ecosystem uses for these exports; it also reads the XML of SMS Backup & Restore (android_sms.py).
"""

from __future__ import annotations

from pathlib import Path

from clonekit.data_prep.export_common import read_text
from clonekit.errors import ClonekitError


def load_html(path: Path):
    """The document's root element. Bytes that are not UTF-8 are an error with their line and column."""
    import lxml.etree
    import lxml.html

    text = read_text(path)
    if not text.strip():
        raise ClonekitError("the HTML file is empty", path)
    try:
        return lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError) as e:
        raise ClonekitError(f"not a readable HTML page ({e})", path) from None


def has_class(el, name: str) -> bool:
    return name in (el.get("class") or "").split()


def first_with_class(el, name: str):
    """The first descendant of `el` (itself excluded) with CSS class `name`, or None."""
    for node in el.iterdescendants():
        if isinstance(node.tag, str) and has_class(node, name):
            return node
    return None


def children_with_class(el, name: str) -> list:
    return [c for c in el if isinstance(c.tag, str) and has_class(c, name)]
