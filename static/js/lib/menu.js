// Popup menus: a role="menu" popover opened by a button, placed next to it, with arrow keys.

const GAP = 4;

export class PopupMenu {
  // onSelect(item, button) runs when a menu item is chosen; onOpen(button) before showing.
  constructor(menu, { onSelect, onOpen } = {}) {
    this.menu = menu;
    this.button = null;
    this.onSelect = onSelect;
    this.onOpen = onOpen;
    this.lastClosed = { button: null, time: 0 };
    menu.addEventListener("keydown", (event) => this.keydown(event));
    menu.addEventListener("click", (event) => {
      const item = event.target.closest('[role="menuitem"]');
      if (!item || item.getAttribute("aria-disabled") === "true") return;
      const button = this.button;
      this.close(false);
      if (this.onSelect) this.onSelect(item, button);
    });
    menu.addEventListener("beforetoggle", (event) => {
      if (event.newState === "closed") this.closed();
    });
    window.addEventListener("resize", () => this.close(false));
  }

  get isOpen() {
    return this.menu.matches(":popover-open");
  }

  items() {
    return [...this.menu.querySelectorAll('[role="menuitem"]')].filter((item) => !item.hidden);
  }

  // Wire a button: click toggles, ArrowDown/ArrowUp open on the first/last item.
  attach(button) {
    button.addEventListener("click", () => this.toggle(button));
    button.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        this.open(button, event.key === "ArrowUp");
      }
    });
  }

  toggle(button, last = false) {
    if (this.isOpen && this.button === button) {
      this.close(true);
      return;
    }
    // A click on the button that opened the menu first closes it by light dismiss.
    if (this.lastClosed.button === button && performance.now() - this.lastClosed.time < 300) return;
    this.open(button, last);
  }

  open(button, last = false) {
    if (this.isOpen) this.close(false);
    this.button = button;
    if (this.onOpen) this.onOpen(button);
    button.setAttribute("aria-expanded", "true");
    this.menu.showPopover();
    this.place(button);
    const items = this.items();
    const target = last ? items[items.length - 1] : items[0];
    if (target) target.focus();
  }

  place(button) {
    const box = button.getBoundingClientRect();
    const menu = this.menu.getBoundingClientRect();
    const roomBelow = window.innerHeight - box.bottom;
    const top = roomBelow >= menu.height + GAP || box.top < menu.height + GAP ? box.bottom + GAP : box.top - menu.height - GAP;
    const left = Math.min(Math.max(GAP, box.right - menu.width), window.innerWidth - menu.width - GAP);
    this.menu.style.top = `${Math.max(GAP, top)}px`;
    this.menu.style.left = `${Math.max(GAP, left)}px`;
  }

  close(returnFocus) {
    const button = this.button;
    this.closing = true;
    if (this.isOpen) this.menu.hidePopover();
    this.closing = false;
    if (returnFocus && button && button.isConnected) button.focus();
  }

  closed() {
    const button = this.button;
    // Remember a light dismiss: the click that caused it may be on the same button.
    this.lastClosed = { button: this.closing ? null : button, time: performance.now() };
    this.button = null;
    if (!button) return;
    button.setAttribute("aria-expanded", "false");
    // Escape or a click elsewhere: focus goes back to the button unless it moved on.
    const focus = document.activeElement;
    if (button.isConnected && (!focus || focus === document.body || this.menu.contains(focus))) button.focus();
  }

  keydown(event) {
    const items = this.items();
    const index = items.indexOf(document.activeElement);
    let next = null;
    if (event.key === "ArrowDown") next = items[(index + 1) % items.length];
    else if (event.key === "ArrowUp") next = items[(index - 1 + items.length) % items.length];
    else if (event.key === "Home") next = items[0];
    else if (event.key === "End") next = items[items.length - 1];
    else if (event.key === "Tab") {
      event.preventDefault();
      this.close(true);
      return;
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.close(true);
      return;
    }
    if (next) {
      event.preventDefault();
      next.focus();
    }
  }
}
