"""A reply's Markdown rendered while it streams: safe at every moment, and no jump when it ends."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import assistant_articles, send_message, streaming_text

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

STREAMING = '[aria-label="Messages"] article[data-status="streaming"] .content'

# What the page must never hold, whatever the model writes.
UNSAFE = """() => {
  const list = document.querySelector('[aria-label="Messages"]');
  const found = [];
  for (const node of list.querySelectorAll("*")) {
    if (["SCRIPT", "IFRAME", "OBJECT", "EMBED", "STYLE", "FORM"].includes(node.nodeName)) found.push(node.nodeName);
    for (const attr of node.attributes) {
      if (attr.name.startsWith("on") || attr.name === "style") found.push(`${node.nodeName} ${attr.name}`);
      if (["href", "src", "action", "formaction", "xlink:href"].includes(attr.name)
          && /^\\s*(javascript|data|vbscript):/i.test(attr.value)) found.push(`${node.nodeName} ${attr.value}`);
    }
    if (node.nodeName === "IMG" && node.closest('article[data-status="streaming"]') && node.hasAttribute("src")) {
      found.push(`IMG src ${node.getAttribute("src")}`);
    }
  }
  if (window.__pwned !== undefined) found.push(`ran: ${window.__pwned}`);
  return found;
}"""

HOSTILE = [
    "Some *emphasis* first.\n\n",
    "<script>window.__pwned = 'script'</script>\n\n",
    "An image: <img src=x onerror=\"window.__pwned = 'img'\"> inline.\n\n",
    "[click](javascript:window.__pwned='link') and ",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) and ",
    "[vb](vbscript:msgbox(1)) and ",
    "<a href=\"javascript:window.__pwned='raw'\">raw</a>\n\n",
    "Pictures: ![remote](http://127.0.0.1:9/tracker.png) and ![inline](data:image/png;base64,iVBORw0KGgo=)\n\n",
    "```html\n<script>window.__pwned = 'fence'</script>\n```\n\n",
    "The end.",
]


def test_hostile_markdown_stays_inert_while_it_streams(signed_in_page: Page, ollama):
    page = signed_in_page
    ollama.enqueue_chat(*HOSTILE, delay=0.3)
    send_message(page, "Show me something nasty")

    seen_rendered = False
    for marker in ["emphasis", "<script>", "inline.", "click", "raw", "Pictures", "fence", "The end."]:
        streaming_text(page, 0, marker)
        assert page.evaluate(UNSAFE) == [], f"unsafe DOM while streaming, at {marker!r}"
        seen_rendered = seen_rendered or page.locator(f"{STREAMING} em").count() > 0
    assert seen_rendered, "the reply was not rendered as Markdown while it streamed"
    # Raw HTML and refused links are shown as text; images keep their place, unloaded.
    live = page.locator(STREAMING)
    expect(live).to_contain_text("<script>window.__pwned = 'script'</script>")
    expect(live).to_contain_text("[click](javascript:window.__pwned='link')")
    expect(live.locator("img[alt=remote]")).to_have_count(1)

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    assert page.evaluate(UNSAFE) == []


REPLY = [
    "# A heading\n\n",
    "Some text with **bold** and `code`.\n\n",
    "## Steps\n\n",
    "1. first\n",
    "2. second\n\n",
    "3. third, loose\n\n",
    "- a bullet\n",
    "  - nested\n\n",
    "```python\n",
    "def f(x):\n\n",
    "    return x * 2\n",
    "```\n\n",
    "> a quote\n\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n",
    "Last line.",
]

# Records the streaming reply's height after every change, and the final one's.
HEIGHTS = """() => {
  const list = document.querySelector('[aria-label="Messages"]');
  window.__heights = { live: null, final: null, blocks: 0 };
  new MutationObserver(() => {
    const live = list.querySelector('article[data-status="streaming"] .content.rendered');
    if (live) {
      window.__heights.live = live.getBoundingClientRect().height;
      window.__heights.blocks = live.children.length;
    }
    const done = list.querySelector('article[data-role="assistant"][data-status="complete"] .content');
    if (done && window.__heights.final === null) window.__heights.final = done.getBoundingClientRect().height;
  }).observe(list, { childList: true, subtree: true, characterData: true });
}"""


@pytest.mark.parametrize("viewport", [None, PHONE], ids=["desktop", "phone"])
def test_the_reply_keeps_its_height_when_it_ends(signed_in_page: Page, ollama, viewport):
    page = signed_in_page
    if viewport:
        page.set_viewport_size(viewport)
    page.evaluate(HEIGHTS)
    ollama.enqueue_chat(*REPLY, delay=0.15)
    send_message(page, "Format something")

    streaming_text(page, 0, "A heading")
    live = page.locator(STREAMING)
    expect(live.locator("h1")).to_have_text("A heading")
    streaming_text(page, 0, "Last line.")
    expect(live.locator("ol li")).to_have_count(3)
    expect(live.locator("ul ul li")).to_have_text("nested")
    expect(live.locator('pre.highlight code[data-lang="python"]')).to_contain_text("return x * 2")
    expect(live.get_by_role("button", name="Copy code")).to_have_count(1)

    reply = assistant_articles(page).first
    expect(reply).to_have_attribute("data-status", "complete")
    heights = page.evaluate("window.__heights")
    assert heights["final"] and heights["live"], heights
    assert abs(heights["final"] - heights["live"]) <= 3, heights
    # The live rendering had the server's top-level structure.
    final_blocks = reply.locator(".content").evaluate("node => node.children.length")
    assert heights["blocks"] == final_blocks, heights
