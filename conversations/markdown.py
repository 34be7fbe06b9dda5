"""Model output → safe HTML: Markdown with highlighted code, then sanitised."""

from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import Any

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_formatter = HtmlFormatter(nowrap=True)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    name = lang.strip().split()[0] if lang.strip() else ""
    try:
        body = highlight(code, get_lexer_by_name(name), _formatter) if name else escape(code)
    except ClassNotFound:
        body = escape(code)
    # Starting with <pre> tells markdown-it to use this block as it is.
    return f'<pre class="highlight"><code data-lang="{escape(name)}">{body}</code></pre>'


# "html": False escapes any raw HTML the model writes instead of passing it through.
_markdown = MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable(
    ["table", "strikethrough"]
)

_TAGS = {
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "div",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "span": {"class"},
    "div": {"class"},
    "code": {"data-lang"},
    "pre": {"class"},
    "ol": {"start"},
    "td": {"style"},
    "th": {"style"},
}


def render_markdown(text: str) -> str:
    """Render untrusted Markdown; the result is safe to insert as HTML."""
    if not text:
        return ""
    html = _markdown.render(text)
    # The sanitiser is the guarantee: whatever the renderer lets through, no
    # script, event handler or javascript: URL survives it.
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


# Opening a conversation is mostly rendering its replies (code blocks are highlighted),
# and a finished reply is shown again and again: each worker keeps the HTML of the
# replies it rendered last. The key holds the message's id, so that one user's request
# is never answered (not even in its timing) from another's text, and the text, so
# that a continued reply is rendered afresh. Longer texts are rendered every time,
# which bounds what is kept.
KEPT_RENDERINGS = 128
KEPT_MAX_CHARS = 16_000


def render_message(message_id: Any, text: str) -> str:
    """render_markdown() for a finished message, kept for the next time it is shown."""
    if len(text) > KEPT_MAX_CHARS:
        return render_markdown(text)
    return _kept(message_id, text)


@lru_cache(maxsize=KEPT_RENDERINGS)
def _kept(message_id: Any, text: str) -> str:
    return render_markdown(text)
