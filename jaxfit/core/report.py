"""A static HTML index for a results folder (jinja2), with plots, tables and provenance."""

from __future__ import annotations

import html
from pathlib import Path

import jinja2

from jaxfit.core.io import atomic_write_bytes, to_jsonable

_TEMPLATE = jinja2.Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { border-bottom: 2px solid #446; } h2 { color: #335; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ccc;
padding: .25em .6em; text-align: right; } th { background: #eef; }
img { max-width: 48%; margin: .3em; border: 1px solid #ddd; } pre { background: #f6f6f6;
padding: .6em; overflow-x: auto; font-size: 85%; } .files a { margin-right: 1em; }
</style></head><body>
<h1>{{ title }}</h1>
{% for s in sections %}
<h2>{{ s.title }}</h2>
{% for p in s.text %}<p>{{ p | e }}</p>{% endfor %}
{% if s.table %}{{ s.table }}{% endif %}
{% if s.pre %}<pre>{{ s.pre | e }}</pre>{% endif %}
{% for img in s.images %}<img src="{{ img }}" alt="{{ img }}">{% endfor %}
{% if s.files %}<p class="files">Files: {% for f in s.files %}<a href="{{ f }}">{{ f }}</a>
{% endfor %}</p>{% endif %}
{% endfor %}
<h2>Provenance</h2><pre>{{ provenance }}</pre>
</body></html>
"""
)


def table_html(rows: list[dict]) -> str:
    """An HTML table from a list of dicts (keys of the first row are the columns)."""
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def write_index(path, title: str, sections: list[dict], provenance: dict) -> Path:
    """Write ``index.html``.

    Args:
        path: output file.
        title: page title.
        sections: dicts with ``title`` and optional ``text`` (list of paragraphs),
            ``table`` (HTML from :func:`table_html`), ``pre`` (preformatted text, e.g. a
            checklist), ``images`` and ``files`` (paths
            relative to the page).
        provenance: shown as JSON at the end.
    """
    import json

    sections = [
        {"text": [], "table": "", "pre": "", "images": [], "files": []} | section
        for section in sections
    ]
    text = _TEMPLATE.render(
        title=title,
        sections=sections,
        provenance=json.dumps(to_jsonable(provenance), indent=2),
    )
    return atomic_write_bytes(path, text.encode())
