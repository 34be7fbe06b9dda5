// Reconnecting JSON websocket: exponential backoff with jitter, keep-alive pings,
// and close codes that end the connection for good.

const PING_MS = 25000;
const MIN_DELAY = 500;
const MAX_DELAY = 10000;
const FINAL_CODES = new Set([4401, 4404]);

export function socketUrl(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

// handlers: open(), frame(obj), drop() when a live connection is lost,
// fatal(code) for a close code that must not be retried.
export function connect(path, handlers) {
  let ws = null;
  let attempts = 0;
  let timer = 0;
  let ping = 0;
  let stopped = false;
  let fatal = false;

  function open() {
    clearTimeout(timer);
    if (stopped) return;
    const sock = new WebSocket(socketUrl(path));
    ws = sock;
    // A frame too large for one websocket message comes as "part" frames: their
    // data, joined, is the frame's JSON text.
    let parts = "";
    sock.onopen = () => {
      if (ws !== sock) return;
      ping = setInterval(() => send({ type: "ping" }), PING_MS);
      handlers.open();
    };
    sock.onmessage = (event) => {
      if (ws !== sock) return;
      attempts = 0;
      let data;
      try {
        data = JSON.parse(event.data);
        if (data && data.type === "part") {
          parts += data.data;
          if (!data.last) return;
          const whole = parts;
          parts = "";
          data = JSON.parse(whole);
        }
      } catch {
        parts = "";
        return;
      }
      if (data && typeof data === "object") handlers.frame(data);
    };
    sock.onclose = (event) => {
      if (ws !== sock) return;
      clearInterval(ping);
      ws = null;
      if (stopped) return;
      if (FINAL_CODES.has(event.code)) {
        stopped = fatal = true;
        handlers.fatal(event.code);
        return;
      }
      handlers.drop();
      schedule();
    };
  }

  function schedule() {
    const base = Math.min(MAX_DELAY, MIN_DELAY * 2 ** attempts);
    attempts += 1;
    timer = setTimeout(open, base / 2 + Math.random() * base / 2);
  }

  function send(obj) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  function close() {
    stopped = true;
    clearTimeout(timer);
    clearInterval(ping);
    if (ws) {
      const sock = ws;
      ws = null;
      sock.close(1000);
    }
  }

  // Reconnect now (e.g. the network came back) instead of waiting out the backoff.
  function nudge() {
    if (stopped || ws) return;
    attempts = 0;
    open();
  }

  function resume() {
    if (fatal || !stopped || ws) return;
    stopped = false;
    attempts = 0;
    open();
  }

  open();
  return { send, close, nudge, resume, isOpen: () => !!ws && ws.readyState === WebSocket.OPEN };
}
