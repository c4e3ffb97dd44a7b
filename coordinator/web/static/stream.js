// The event stream (/v1/events, server-sent events) read with fetch, not EventSource:
// EventSource cannot send the Authorization header. A lost stream is retried with a
// growing delay; the page is told when it is lost and when it is back, so it can say
// so and read the state again (events sent meanwhile are gone).
import { token } from "./api.js";

const RETRY_MIN = 500, RETRY_MAX = 5000;

export class EventStream {
  constructor({ onEvent, onStatus, onRefused }) {
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onRefused = onRefused;
    this.controller = null;
    this.stopped = true;
    this.lastId = null;
  }

  start() {
    this.stopped = false;
    this.everConnected = false;
    this.lost = false;
    this.run();
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  async run() {
    let delay = RETRY_MIN;
    while (!this.stopped) {
      this.controller = new AbortController();
      try {
        const headers = { "Accept": "text/event-stream", "Authorization": `Bearer ${token()}` };
        if (this.lastId) headers["Last-Event-ID"] = this.lastId;
        const response = await fetch("/v1/events", {
          headers, signal: this.controller.signal, cache: "no-store",
        });
        if (response.status === 401) { this.stopped = true; this.onRefused(); return; }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        this.onStatus(this.lost ? "back" : "live");
        this.lost = false;
        this.everConnected = true;
        delay = RETRY_MIN;
        await this.read(response.body);
      } catch (err) {
        if (this.stopped) return;
      }
      if (this.stopped) return;
      this.lost = true;
      this.onStatus("lost");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, RETRY_MAX);
    }
  }

  // the text/event-stream format: "field: value" lines, an empty line ends an event
  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = { type: "message", data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (event.data.length) this.dispatch(event);
          event = { type: "message", data: [] };
          continue;
        }
        if (line.startsWith(":")) continue;  // a comment: the server's keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (field === "event") event.type = val;
        else if (field === "data") event.data.push(val);
        else if (field === "id") this.lastId = val;
      }
    }
  }

  dispatch(event) {
    const text = event.data.join("\n");
    let data;
    try { data = JSON.parse(text); } catch { data = { text }; }
    try { this.onEvent(event.type, data); } catch (err) { console.error(err); }
  }
}
