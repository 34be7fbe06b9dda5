// The search box beside the model picker: typing narrows the picker's options, Enter or
// the down arrow moves to them, Escape clears the filter.

export class ModelFilter {
  constructor(input, status, picker) {
    this.input = input;
    this.status = status;
    this.picker = picker;
    input.addEventListener("input", () => this.apply());
    input.addEventListener("keydown", (event) => this.onKey(event));
  }

  apply() {
    const found = this.picker.narrow(this.input.value);
    const none = found === 0 && this.input.value.trim() !== "";
    this.input.toggleAttribute("aria-invalid", none);
    this.status.textContent = none ? "No model matches." : "";
  }

  clear() {
    this.input.value = "";
    this.apply();
  }

  onKey(event) {
    if (event.key === "Enter" || event.key === "ArrowDown") {
      // Enter would otherwise send the message the box belongs to.
      event.preventDefault();
      this.picker.select.focus();
    } else if (event.key === "Escape" && this.input.value) {
      // Escape elsewhere stops the reply; here it only clears the filter.
      event.preventDefault();
      event.stopPropagation();
      this.clear();
    }
  }
}
