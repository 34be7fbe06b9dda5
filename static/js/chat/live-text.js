// A streaming reply's text on screen: plain at first, then Markdown once the renderer
// (live-markdown.js and its libraries) has loaded, which the first streaming reply asks
// for, so a page that never sees a reply stream never loads it.

let renderer = null;

function loadRenderer() {
  renderer ||= import("./live-markdown.js").catch(() => {
    renderer = null; // a failed load is tried again by the next reply; this one stays plain
    return null;
  });
  return renderer;
}

export class LiveText {
  // content: the reply's .content element; decorate(fragment) adds the code blocks' controls.
  constructor(content, text, decorate) {
    this.content = content;
    this.text = text;
    this.decorate = decorate;
    this.markdown = null;
    this.node = document.createTextNode(text);
    content.append(this.node);
    loadRenderer().then((module) => module && this.useMarkdown(module));
  }

  get length() {
    return this.text.length;
  }

  // As a Text node's appendData: the reply's text grows by delta.
  appendData(delta) {
    this.text += delta;
    if (this.markdown) this.markdown.append(delta);
    else this.node.appendData(delta);
  }

  useMarkdown({ LiveMarkdown }) {
    this.node.remove();
    this.content.classList.replace("plain", "rendered");
    this.markdown = new LiveMarkdown(this.content, this.decorate);
    if (this.text) this.markdown.append(this.text);
  }
}
