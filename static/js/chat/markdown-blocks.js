// A streaming reply's Markdown cut into blocks as it grows: the finished blocks, which
// no later text can change, and the open tail. Each call reads only the text that came
// since the last one, so the cost of a frame does not grow with the reply.
//
// A block ends at a blank line outside a code fence, decided by the first line after it:
// an indented line may continue a list item or an indented code block, and a list item
// after a block that holds a list may be the same (loose) list, so neither ends it.

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const LIST_ITEM = /^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)/;
const BLANK = /^[ \t]*$/;

export class MarkdownBlocks {
  constructor() {
    this.text = "";
    this.start = 0; // where the open tail begins
    this.scan = 0; // the first line not read yet
    this.fence = null; // the open fence's marker ("```", "~~~~"…)
    this.blank = false; // a blank line ended the tail's last line
    this.hasList = false; // the tail holds a list item
  }

  // Adds text; returns the blocks it finished, in order.
  append(delta) {
    this.text += delta;
    const finished = [];
    let end = this.text.indexOf("\n", this.scan);
    while (end !== -1) {
      const block = this.readLine(this.scan, end);
      if (block !== null) finished.push(block);
      this.scan = end + 1;
      end = this.text.indexOf("\n", this.scan);
    }
    return finished;
  }

  get tail() {
    return this.text.slice(this.start);
  }

  // One whole line, from `from` to the newline at `to`: the block it ends, or null.
  readLine(from, to) {
    const line = this.text.slice(from, to);
    if (this.fence) {
      if (this.closesFence(line)) this.fence = null;
      return null;
    }
    if (BLANK.test(line)) {
      if (from > this.start) this.blank = true;
      return null;
    }
    let block = null;
    if (this.blank) {
      this.blank = false;
      const item = LIST_ITEM.test(line);
      if (!/^[ \t]/.test(line) && !(item && this.hasList)) {
        block = this.text.slice(this.start, from);
        this.start = from;
        this.hasList = false;
      }
    }
    if (LIST_ITEM.test(line)) this.hasList = true;
    const open = FENCE.exec(line);
    if (open && !(open[1][0] === "`" && line.slice(open[0].length).includes("`"))) this.fence = open[1];
    return block;
  }

  // A closing fence: the opening's character, at least as many, and nothing after them.
  closesFence(line) {
    const found = FENCE.exec(line);
    const marker = found && found[1];
    return (
      !!marker &&
      marker[0] === this.fence[0] &&
      marker.length >= this.fence.length &&
      BLANK.test(line.slice(found[0].length))
    );
  }
}
