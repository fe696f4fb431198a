"""The self-contained HTML page: escaped text, numbers shown to 4 significant digits, figures
embedded as base64 PNGs, written atomically."""

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from hepgan.report.html import HtmlReport, figure_png  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def test_text_is_escaped_everywhere_it_goes():
    page = HtmlReport("E < 10 & more")
    page.heading("<script>", level=3)
    page.text("a > b", css="note")
    page.table(["<h>"], [["x & y"]])
    html = page.render()
    assert "<title>E &lt; 10 &amp; more</title>" in html and "<h1>E &lt; 10 &amp; more</h1>" in html
    assert "<h3>&lt;script&gt;</h3>" in html and '<p class="note">a &gt; b</p>' in html
    assert "<th>&lt;h&gt;</th>" in html and "<td>x &amp; y</td>" in html
    assert "<script>" not in html


def test_table_cells_are_numbers_to_four_digits_and_rows_carry_their_class():
    page = HtmlReport("t")
    page.table(["name", "value", "n", "ok"], [["a", 0.123456, 12345, True], ["b", 1234567.0, 3, False]],
               row_classes=["pass", ""], id="summary")
    html = page.render()
    assert '<table id="summary">' in html
    assert ('<tr class="pass"><td>a</td><td class="num">0.1235</td><td class="num">12345</td><td>True</td></tr>'
            in html)
    assert '<tr><td>b</td><td class="num">1.235e+06</td><td class="num">3</td><td>False</td></tr>' in html


def test_figures_are_embedded_as_the_png_they_were_given():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = figure_png(fig)
    assert png[:8] == PNG and not plt.fignum_exists(fig.number)  # rendered and closed
    page = HtmlReport("t")
    page.figure(png, caption="response < 1")
    html = page.render()
    (data,) = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert base64.b64decode(data) == png
    assert '<img alt="response &lt; 1"' in html and "<figcaption>response &lt; 1</figcaption>" in html


def test_the_page_is_written_whole_into_a_new_directory(tmp_path):
    page = HtmlReport("t")
    page.text("hello")
    path = page.write(tmp_path / "new" / "report.html")
    assert path == tmp_path / "new/report.html" and path.read_text(encoding="utf-8") == page.render()
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temp file left
    page.text("again")
    page.write(path)
    assert path.read_text(encoding="utf-8").count("<p>") == 2
