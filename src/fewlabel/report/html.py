"""One self-contained static HTML page (PNG figures embedded as base64) that can be mailed.

A report is a title plus a list of :class:`Section` s; each section holds prose, figures,
tables and the commands that reproduce it.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fewlabel.atomic import write_text_atomic


@dataclass
class Section:
    """A titled block of the report. ``figures`` are (PNG path, caption) pairs.

    ``text`` is plain prose (escaped); ``markdown`` is rendered (tables included), for the
    Markdown summaries that commands and benchmarks write next to their outputs.
    """

    title: str
    text: str = ""
    figures: list[tuple[str | os.PathLike, str]] = field(default_factory=list)
    tables: list[tuple[pd.DataFrame, str]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    markdown: str = ""


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
     color:#222;line-height:1.45;padding:0 1em}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top;max-width:100%}
figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}pre{background:#f6f6f6;padding:.7em;overflow-x:auto;border-radius:4px}
.meta{color:#666;font-size:.9em}
"""


def _img_tag(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    cap = html.escape(caption)
    return (f'<figure><img src="data:{mime};base64,{data}" alt="{cap}">'
            f"<figcaption>{cap}</figcaption></figure>")


def _markdown_html(text: str) -> str:
    """Markdown -> HTML with pipe tables and fenced code (Python-Markdown)."""
    import markdown

    return markdown.markdown(text, extensions=["tables", "fenced_code"])


def _number(value: float) -> str:
    """Table cells: four significant digits, so 0.8475 and 1234.5 both read as measured."""
    return f"{value:.4g}"


def render_html(title: str, sections: list[Section], meta: str = "") -> str:
    """Return the report as one HTML string; missing figure files are listed, not fatal."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if meta:
        parts.append(f"<p class='meta'>{html.escape(meta)}</p>")
    for sec in sections:
        parts.append(f"<section><h2>{html.escape(sec.title)}</h2>")
        if sec.text:
            parts.extend(f"<p>{html.escape(p)}</p>" for p in sec.text.split("\n\n"))
        if sec.markdown:
            parts.append(_markdown_html(sec.markdown))
        for fig_path, caption in sec.figures:
            p = Path(fig_path)
            parts.append(_img_tag(p, caption) if p.is_file() else
                         f"<p><em>figure missing: {html.escape(str(p))}</em></p>")
        for table, caption in sec.tables:
            if caption:
                parts.append(f"<p><strong>{html.escape(caption)}</strong></p>")
            parts.append(table.to_html(index=False, float_format=_number, border=0))
        if sec.commands:
            parts.append("<p>Reproduce:</p><pre>" + html.escape("\n".join(sec.commands)) + "</pre>")
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(path: str | os.PathLike, title: str, sections: list[Section], meta: str = "") -> Path:
    """Render and write the report atomically; return its path."""
    path = Path(path)
    write_text_atomic(path, render_html(title, sections, meta))
    return path
