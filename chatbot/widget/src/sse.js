// An incremental Server-Sent Events parser for what the chat API sends: events separated by a
// blank line, lines ending in "\n", "\r\n" or "\r" (Litestar ends them with "\r\n"). Chunks from
// the network may split a line, or a "\r\n", anywhere.

/**
 * @param {(event: string, data: string) => void} onEvent called once per complete event
 */
export function createSSEParser(onEvent) {
  let buffer = "";
  let event = "";
  /** @type {string[]} */
  let data = [];

  /** @param {string} text one line without its ending */
  function line(text) {
    if (text === "") {
      if (data.length) onEvent(event || "message", data.join("\n"));
      event = "";
      data = [];
      return;
    }
    if (text.startsWith(":")) return; // a comment (keep-alive)
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }

  return {
    /** @param {string} chunk decoded text as it arrives */
    push(chunk) {
      buffer += chunk;
      const ends = /\r\n|\r|\n/g;
      let start = 0;
      let match;
      while ((match = ends.exec(buffer)) !== null) {
        // A "\r" at the very end may be the first half of "\r\n": wait for the next chunk.
        if (match[0] === "\r" && ends.lastIndex === buffer.length) break;
        line(buffer.slice(start, match.index));
        start = ends.lastIndex;
      }
      buffer = buffer.slice(start);
    },
    /** The stream ended: flush a last event that had no blank line after it. */
    end() {
      if (buffer.endsWith("\r")) buffer = buffer.slice(0, -1);
      if (buffer) line(buffer);
      buffer = "";
      line("");
    },
  };
}
