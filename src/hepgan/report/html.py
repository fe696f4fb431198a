"""A self-contained HTML page: sections of text, tables and figures, with every image embedded
as a base64 PNG so the single file can be mailed, archived or opened offline."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { border-bottom: 2px solid #446; } h2 { margin-top: 1.8em; color: #334; }
table { border-collapse: collapse; margin: 0.8em 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; }
th { background: #eef; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { background: #dfd; } .fail { background: #fdd; } figure { display: inline-block; margin: 0.5em; }
figcaption { font-size: 0.85em; color: #555; max-width: 700px; } .note { color: #555; font-size: 0.9em; }
.warning { background: #fdd; border-left: 4px solid #c00; padding: 0.4em 0.8em; }
"""


def figure_png(fig, dpi: int = 90) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


class HtmlReport:
    """Collects sections and writes one HTML file."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def text(self, text: str, css: str = "") -> None:
        cls = f' class="{css}"' if css else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def table(self, header: list[str], rows: list[list], row_classes: list[str] | None = None, id: str = "") -> None:
        """A table; numbers are right-aligned and shown to 4 significant digits."""
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = []
        for i, row in enumerate(rows):
            cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
            cells = "".join(_cell(v) for v in row)
            body.append(f"<tr{cls}>{cells}</tr>")
        ident = f' id="{html.escape(id)}"' if id else ""
        self.parts.append(f"<table{ident}><tr>{head}</tr>{''.join(body)}</table>")

    def figure(self, png: bytes, caption: str = "") -> None:
        data = base64.b64encode(png).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">{cap}</figure>')

    def render(self) -> str:
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>{''.join(self.parts)}</body></html>"
        )

    def write(self, path: str | os.PathLike) -> Path:
        """Write atomically (temp file + rename)."""
        from hepgan.data.files import atomic_output

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            tmp.write_text(self.render(), encoding="utf-8")
        return path


def _cell(value) -> str:
    if isinstance(value, float):
        return f'<td class="num">{value:.4g}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{html.escape(str(value))}</td>"
