// Trying something again until it works: after 2 s, then twice as long each time up to
// 30 s, and not while the page is hidden (it tries at once when the page is shown again).

export class Backoff {
  // attempt(): resolves to true once it worked.
  constructor(attempt, { first = 2000, max = 30000 } = {}) {
    this.attempt = attempt;
    this.first = first;
    this.max = max;
    this.delay = first;
    this.running = false;
    this.busy = false;
    this.timer = 0;
    document.addEventListener("visibilitychange", () => {
      if (!this.running) return;
      if (document.hidden) clearTimeout(this.timer);
      else this.run();
    });
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.delay = this.first;
    this.schedule();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
  }

  schedule() {
    clearTimeout(this.timer);
    if (this.running && !document.hidden) this.timer = setTimeout(() => this.run(), this.delay);
  }

  async run() {
    clearTimeout(this.timer);
    if (!this.running || this.busy) return;
    this.busy = true;
    let worked = false;
    try {
      worked = await this.attempt();
    } catch {
      worked = false;
    }
    this.busy = false;
    if (worked) {
      this.stop();
      return;
    }
    this.delay = Math.min(this.delay * 2, this.max);
    this.schedule();
  }
}
