// Markdown rendered in the page while a reply streams, loaded when a reply first does.
// It follows the server's rendering (conversations/markdown.py) so the final HTML takes
// its place without a jump: markdown-it with the same preset, rules and code blocks,
// then DOMPurify with the same tags, attributes and link schemes. Model output is
// untrusted: raw HTML is escaped, and what the renderer lets through the sanitiser
// still checks; images keep their place but load nothing until the reply ends.

import { MarkdownBlocks } from "./markdown-blocks.js";

const [{ default: markdownit }, { default: createPurifier }] = await Promise.all([
  import("../../vendor/markdown-it/markdown-it.min.mjs"),
  import("../../vendor/dompurify/purify.es.mjs"),
]);

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;" };

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]);
}

// The server's block for code, without the colours Pygments adds when the reply ends.
function codeBlock(code, lang) {
  const name = lang.trim().split(/\s+/)[0] || "";
  return `<pre class="highlight"><code data-lang="${escapeHtml(name)}">${escapeHtml(code)}</code></pre>`;
}

const markdown = markdownit("commonmark", { html: false, highlight: codeBlock }).enable([
  "table",
  "strikethrough",
]);

const purifier = createPurifier(window);
purifier.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName === "IMG") node.removeAttribute("src");
  if (node.nodeName === "A") node.setAttribute("rel", "noopener noreferrer nofollow");
});
const PURIFY = {
  ALLOWED_TAGS: [
    "a", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
  ],
  // No style: the page's CSP would refuse a table's text-align anyway.
  ALLOWED_ATTR: ["href", "title", "src", "alt", "class", "data-lang", "start"],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  // http, https, mailto, or a relative address: no javascript:, data: or vbscript:.
  ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
  RETURN_DOM_FRAGMENT: true,
};

function render(text) {
  return purifier.sanitize(markdown.render(text), PURIFY);
}

// A reply's content element, filled as the text grows: finished blocks are rendered once
// and appended; only the open tail is rendered again. decorate(fragment) adds controls
// (the code blocks' Copy buttons) before a rendering goes in.
export class LiveMarkdown {
  constructor(content, decorate) {
    this.content = content;
    this.decorate = decorate;
    this.blocks = new MarkdownBlocks();
    this.tailNodes = [];
  }

  append(delta) {
    const finished = this.blocks.append(delta);
    if (finished.length) this.insert(render(finished.join("")), this.tailNodes[0] || null);
    for (const node of this.tailNodes) node.remove();
    const tail = render(this.blocks.tail);
    this.decorate(tail);
    this.tailNodes = [...tail.childNodes];
    this.content.append(tail);
  }

  insert(fragment, before) {
    this.decorate(fragment);
    this.content.insertBefore(fragment, before);
  }
}
