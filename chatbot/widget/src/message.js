// One assistant message in the log: the streamed answer (Markdown through the sanitiser in
// markdown.js), its sources, the feedback thumbs, the handoff offer and errors. Titles and notes
// go in as text nodes; citation URLs only through safeUrl.
import { ApiError } from "./api.js";
import { el } from "./dom.js";
import { icon } from "./icons.js";
import { renderMarkdown, safeUrl } from "./markdown.js";

const MAX_SOURCES = 3;

/** One assistant message: streamed text, sources, feedback, handoff, errors. */
export class BotMessage {
  /**
   * @param {import("./widget.js").ChatWidget} widget
   * @param {boolean} typing show the typing indicator until the first text
   */
  constructor(widget, typing) {
    this.widget = widget;
    this.t = widget.t;
    this.text = "";
    this.frame = 0;
    this.bubble = el("div", { class: "bubble md" });
    this.bubble.hidden = true;
    this.typing = el(
      "div",
      { class: "typing" },
      el("span", { class: "sr-only" }, this.t.typing),
      el("i", { "aria-hidden": "true" }),
      el("i", { "aria-hidden": "true" }),
      el("i", { "aria-hidden": "true" }),
    );
    this.typing.hidden = !typing;
    this.node = el(
      "div",
      { class: "msg bot" },
      el("span", { class: "sr-only" }, `${this.t.assistant}: `),
      this.typing,
      this.bubble,
    );
    // Screen readers hear the answer once it is complete, not each streamed piece.
    if (typing) this.node.setAttribute("aria-busy", "true");
  }

  /** Show `text` (Markdown); repeated calls while streaming render once per frame. */
  setText(text, now = false) {
    this.text = text;
    if (now) {
      cancelAnimationFrame(this.frame);
      this.frame = 0;
      this.render();
    } else if (!this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.render();
      });
    }
  }

  render() {
    if (this.text) {
      this.typing.hidden = true;
      this.bubble.hidden = false;
    }
    this.bubble.replaceChildren(renderMarkdown(this.text));
    this.widget.follow();
  }

  /** @param {string} text @param {string} [cls] */
  note(text, cls = "note") {
    const p = el("p", { class: cls }, text);
    this.node.append(p);
    this.widget.follow();
    return p;
  }

  /** @param {unknown} citations */
  sources(citations) {
    this.node.querySelector(".sources")?.remove();
    if (!Array.isArray(citations) || !citations.length) return;
    const list = el("ul", { class: "sources", "aria-label": this.t.sources });
    const seen = new Set();
    for (const c of citations) {
      const title = String(c?.title || c?.source || "").trim();
      const url = safeUrl(c?.url);
      const key = url || title;
      if (!title || seen.has(key)) continue;
      seen.add(key);
      const label = el("span", { class: "title" }, title);
      const item = url
        ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer", title }, label)
        : el("span", { class: "source", title }, label);
      if (url) item.append(icon("external"));
      list.append(el("li", {}, item));
      if (seen.size >= MAX_SOURCES) break;
    }
    if (!seen.size) return;
    list.prepend(el("li", { class: "label", "aria-hidden": "true" }, `${this.t.sources}:`));
    this.node.append(list);
    this.widget.follow();
  }

  /**
   * The turn is complete (live, or loaded from history).
   * @param {any} result the `done` event, or a stored turn plus its session id
   * @param {boolean} live
   */
  finish(result, live) {
    this.node.removeAttribute("aria-busy");
    this.messageId = String(result.message_id || "");
    this.node.dataset.messageId = this.messageId;
    this.node.dataset.answeredBy = String(result.answered_by || "");
    this.setText(String(result.answer ?? result.assistant ?? this.text), true);
    this.sources(result.citations);
    const guardrails = result.guardrails || {};
    if (live && guardrails.retracted) this.note(this.t.retracted);
    if (guardrails.handoff_offered || guardrails.retracted) this.offerHandoff();
    if (this.messageId && result.session_id) this.feedback(String(result.session_id));
    this.widget.follow();
  }

  offerHandoff() {
    const button = el("button", { type: "button", class: "pill handoff" }, icon("person"));
    button.append(this.t.handoff);
    button.addEventListener("click", () => {
      button.disabled = true;
      this.widget.send(this.t.handoffMessage, { handoff: true });
    });
    this.node.append(button);
  }

  /** @param {string} sessionId */
  feedback(sessionId) {
    const row = el("div", { class: "actions" });
    const status = el("span", { class: "note", role: "status" });
    for (const [rating, name, label] of /** @type {const} */ ([
      ["up", "up", this.t.helpful],
      ["down", "downThumb", this.t.notHelpful],
    ])) {
      const button = el("button", {
        type: "button",
        class: "thumb",
        "aria-label": label,
        title: label,
        "aria-pressed": "false",
        "data-rating": rating,
      });
      button.append(icon(name));
      button.addEventListener("click", async () => {
        try {
          await this.widget.api.feedback(sessionId, this.messageId, rating);
          for (const other of row.querySelectorAll(".thumb")) {
            other.setAttribute("aria-pressed", String(other === button));
          }
          status.textContent = this.t.thanks;
        } catch {
          status.textContent = this.t.feedbackFailed;
        }
      });
      row.append(button);
    }
    row.append(status);
    this.node.append(row);
  }

  /** @param {unknown} error @param {() => void} retry */
  failed(error, retry) {
    this.node.removeAttribute("aria-busy");
    this.typing.hidden = true;
    let message = this.t.error;
    if (error instanceof ApiError) {
      if (error.status === 429) message = this.t.busy;
      else if (error.status === 401 || error.status === 403) message = this.t.unauthorised;
    } else if (error instanceof TypeError) {
      message = this.t.offline; // fetch rejects with a TypeError when the network fails
    }
    this.note(message, "error");
    const button = el("button", { type: "button", class: "pill retry" }, this.t.retry);
    button.addEventListener("click", retry);
    this.node.append(button);
    this.widget.follow();
  }

  stopped() {
    this.node.removeAttribute("aria-busy");
    this.typing.hidden = true;
    if (this.frame) this.setText(this.text, true);
    this.note(this.t.stopped);
  }
}
