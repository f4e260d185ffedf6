// The live stream (GET /live, Server-Sent Events) read with fetch() rather than EventSource:
// fetch can send the Authorization and NGSILD-Tenant headers (a city with public reads off
// still streams to its signed-in operators); resuming with Last-Event-ID and the server's
// `reset` are handled here as EventSource would, see docs/live.md.

import { call } from "./api.js";

const DEFAULT_RETRY_MS = 2000;

export class LiveStream {
  /**
   * @param {Record<string,string>} params  /live query parameters (type, q, bbox, options…)
   * @param {{onEvent: Function, onReset?: Function, onStatus?: Function}} handlers
   *   onEvent(message) for each change; onReset() must reload the page's state (awaited
   *   before the stream resumes); onStatus("live"|"reconnecting").
   */
  constructor(params, { onEvent, onReset = async () => {}, onStatus = () => {} }) {
    this.params = params;
    this.onEvent = onEvent;
    this.onReset = onReset;
    this.onStatus = onStatus;
    this.lastId = null;
    this.retry = DEFAULT_RETRY_MS;
    this.closed = false;
    this.abort = null;
  }

  start() {
    this.run();
    return this;
  }

  close() {
    this.closed = true;
    this.abort?.abort();
  }

  async run() {
    while (!this.closed) {
      try {
        this.abort = new AbortController();
        const headers = { Accept: "text/event-stream" };
        if (this.lastId) headers["Last-Event-ID"] = this.lastId;
        const answer = await call(`/live?${new URLSearchParams(this.params)}`, {
          headers, signal: this.abort.signal, cache: "no-store",
        });
        if (!answer.ok) throw new Error(`live stream refused: HTTP ${answer.status}`);
        this.onStatus("live");
        await this.read(answer.body);
      } catch (error) {
        if (this.closed) return;
        console.warn(error);
      }
      if (this.closed) return;
      this.onStatus("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, this.retry));
    }
  }

  async read(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        await this.dispatch(block);
      }
    }
  }

  async dispatch(block) {
    let event = "message";
    let id = null;
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
      else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    }
    if (id !== null) this.lastId = id;
    if (event === "reset") {
      await this.onReset();
    } else if (event === "message" && data.length) {
      this.onEvent(JSON.parse(data.join("\n")));
    }
  }
}

/** Calls `apply(batch)` once per animation frame with the latest item queued per key since
 * the last frame: a burst of updates to one entity costs one redraw, and a hidden tab (no
 * frames) holds at most one pending item per entity. */
export function frameBatcher(apply) {
  let pending = new Map();
  let scheduled = false;
  return (key, item) => {
    pending.set(key, item);
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      const batch = pending;
      pending = new Map();
      apply(batch);
    });
  };
}
