"""Model output is rendered as Markdown and can never run in the page."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser

import pytest

from conversations import markdown
from conversations.markdown import render_markdown


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "![x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=//evil.example></iframe>",
        '<svg onload="alert(1)"></svg>',
        "```\n</code></pre><script>alert(1)</script>\n```",
        '```"><script>alert(1)</script>\nx\n```',
        "<details open ontoggle=alert(1)>",
        '<style>body{display:none}</style><div style="position:fixed">x</div>',
    ],
)
def test_hostile_output_is_inert(hostile):
    elements = parse(render_markdown(hostile))
    for tag, attributes in elements:
        assert tag not in {"script", "iframe", "svg", "style", "object", "embed", "details"}
        for name, value in attributes:
            assert not name.startswith("on"), (tag, name)
            assert name != "style" or tag in {"td", "th"}, (tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (tag, name, value)


def parse(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every element of an HTML fragment, as a browser's tokenizer sees it."""
    elements = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            elements.append((tag, attrs))

    Collector().feed(html)
    return elements


def test_raw_html_is_shown_as_text():
    assert render_markdown("<b>hi</b>") == "<p>&lt;b&gt;hi&lt;/b&gt;</p>\n"


def test_code_blocks_are_highlighted():
    html = render_markdown("```python\nprint('x')\n```")
    assert html.startswith('<pre class="highlight"><code data-lang="python">')
    assert '<span class="nb">print</span>' in html


def test_unknown_languages_are_escaped_plain_code():
    assert render_markdown("```nosuchlang\n<b>\n```") == (
        '<pre class="highlight"><code data-lang="nosuchlang">&lt;b&gt;\n</code></pre>\n'
    )


def test_links_are_kept_safe():
    html = render_markdown("[docs](https://ollama.com)")
    assert 'href="https://ollama.com"' in html and 'rel="noopener noreferrer nofollow"' in html


def test_tables_and_lists_render():
    html = render_markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\n- x\n- y")
    assert "<table>" in html and "<td>1</td>" in html and "<li>x</li>" in html


def test_a_finished_reply_is_rendered_once_per_worker_and_per_message(monkeypatch):
    rendered: list[str] = []
    real = markdown.render_markdown
    monkeypatch.setattr(markdown, "render_markdown", lambda text: rendered.append(text) or real(text))
    markdown._kept.cache_clear()
    first, second = uuid.uuid4(), uuid.uuid4()
    text = "# Title\n\n```python\nx = 1\n```"

    html = markdown.render_message(first, text)
    assert markdown.render_message(first, text) == html == real(text)
    assert rendered == [text]  # shown again: not rendered again

    markdown.render_message(second, text)  # another message (perhaps another user's): its own
    markdown.render_message(first, text + " and more")  # continued: rendered afresh
    assert rendered == [text, text, text + " and more"]

    long = "word " * (markdown.KEPT_MAX_CHARS // 5 + 1)
    markdown.render_message(first, long)
    markdown.render_message(first, long)
    assert rendered[-2:] == [long, long]  # too long to keep
