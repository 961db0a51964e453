// The chat API as the widget uses it: one streamed turn, history, erase, feedback.
import { createSSEParser } from "./sse.js";

/** An HTTP error or an `error` event of the stream (an RFC 9457 problem detail). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   */
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

/** @param {Response} response */
async function failure(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = String(body.detail || body.title || "");
  } catch {
    // not a problem document: the status says enough
  }
  return new ApiError(response.status, detail);
}

export class ChatApi {
  /**
   * @param {string} baseUrl the API's origin (and path prefix), without a trailing slash
   * @param {string} apiKey a chat key, or "" for an API without keys
   */
  constructor(baseUrl, apiKey) {
    this.baseUrl = baseUrl;
    this.apiKey = apiKey;
  }

  /** @param {boolean} json */
  headers(json) {
    /** @type {Record<string, string>} */
    const headers = { Accept: json ? "application/json" : "text/event-stream" };
    if (json) headers["Content-Type"] = "application/json";
    if (this.apiKey) headers.Authorization = `Bearer ${this.apiKey}`;
    return headers;
  }

  /**
   * One turn as Server-Sent Events. Resolves when the stream ends; aborting `signal` closes the
   * connection, which makes the server cancel the generation.
   * @param {{message: string, session_id?: string | null}} body
   * @param {AbortSignal} signal
   * @param {(event: string, data: any) => void} onEvent
   */
  async stream(body, signal, onEvent) {
    const response = await fetch(`${this.baseUrl}/v1/chat/stream`, {
      method: "POST",
      headers: { ...this.headers(true), Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal,
      credentials: "omit",
    });
    if (!response.ok || !response.body) throw await failure(response);
    const parser = createSSEParser((event, data) => {
      let value;
      try {
        value = JSON.parse(data);
      } catch {
        return; // not ours: ignore rather than break the turn
      }
      onEvent(event, value);
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.push(value);
    }
    parser.end();
  }

  /**
   * The session's history, or null when the server no longer has it.
   * @param {string} sessionId
   */
  async history(sessionId) {
    const response = await fetch(`${this.baseUrl}/v1/sessions/${encodeURIComponent(sessionId)}`, {
      headers: this.headers(true),
      credentials: "omit",
    });
    if (response.status === 404 || response.status === 400) return null;
    if (!response.ok) throw await failure(response);
    return response.json();
  }

  /** @param {string} sessionId */
  async erase(sessionId) {
    const response = await fetch(`${this.baseUrl}/v1/sessions/${encodeURIComponent(sessionId)}`, {
      method: "DELETE",
      headers: this.headers(true),
      credentials: "omit",
    });
    if (!response.ok && response.status !== 404) throw await failure(response);
  }

  /**
   * @param {string} sessionId
   * @param {string} messageId
   * @param {"up" | "down"} rating
   */
  async feedback(sessionId, messageId, rating) {
    const response = await fetch(`${this.baseUrl}/v1/feedback`, {
      method: "POST",
      headers: this.headers(true),
      body: JSON.stringify({ session_id: sessionId, message_id: messageId, rating }),
      credentials: "omit",
    });
    if (!response.ok) throw await failure(response);
  }
}
