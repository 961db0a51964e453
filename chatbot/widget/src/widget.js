// <chatbot-widget>: a launcher button and a chat panel in a shadow root.
//
// Options (attributes, copied from the <script> tag by the loader): data-api-url, data-api-key,
// data-title, data-welcome, data-placeholder, data-color, data-lang, data-handoff-url.
// Methods for host pages: open(), close(), send(text). Event: `chatbot:handoff` (bubbles,
// composed) with detail {session_id, message_id} when the visitor asks for a person, so the
// page can open its own live chat or ticket form.
//
// Everything the server sends is untrusted: user text and titles go in as text nodes, answers
// through the sanitiser in markdown.js, URLs through safeUrl.
import { ApiError, ChatApi } from "./api.js";
import { strings } from "./i18n.js";
import { icon } from "./icons.js";
import { renderMarkdown, safeUrl } from "./markdown.js";
import STYLES from "./widget.css";

export const TAG = "chatbot-widget";
const MAX_CHARS = 2000;
const MAX_SOURCES = 3;

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} children text children become text nodes, never markup
 */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/**
 * An absolute URL for `url` (relative to the page), or "" when it is not one.
 * @param {string} url
 */
function resolve(url) {
  try {
    return url ? new URL(url, document.baseURI).href : "";
  } catch {
    return "";
  }
}

/** localStorage that may be missing or refuse (private windows, sandboxed frames). */
const store = {
  /** @param {Storage | undefined} area @param {string} key */
  get(area, key) {
    try {
      return area ? area.getItem(key) : null;
    } catch {
      return null;
    }
  },
  /** @param {Storage | undefined} area @param {string} key @param {string | null} value */
  set(area, key, value) {
    try {
      if (!area) return;
      if (value === null) area.removeItem(key);
      else area.setItem(key, value);
    } catch {
      // storage refused: the conversation just won't survive a reload
    }
  },
};

/** @param {string} name */
function storage(name) {
  try {
    return /** @type {Storage} */ (window[/** @type {"localStorage"} */ (name)]);
  } catch {
    return undefined;
  }
}

/**
 * White or near-black text, whichever reads better on `color` (any CSS colour).
 * @param {string} color
 * @param {HTMLElement} probe a connected element to resolve the colour on
 */
function textOn(color, probe) {
  probe.style.color = color;
  const rgb = getComputedStyle(probe).color.match(/[\d.]+/g);
  probe.style.color = "";
  if (!rgb) return "#ffffff";
  const [r, g, b] = rgb.slice(0, 3).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  // Contrast with white (1.05 / (L + .05)) against contrast with #111 ((L + .05) / .056).
  return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.056 ? "#ffffff" : "#111111";
}

/** One assistant message: streamed text, sources, feedback, handoff, errors. */
class BotMessage {
  /**
   * @param {ChatWidget} widget
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

export class ChatWidget extends HTMLElement {
  constructor() {
    super();
    this.shadow = this.attachShadow({ mode: "open" });
    this.started = false;
    /** @type {AbortController | null} */
    this.controller = null;
    this.stopRequested = false;
    /** @type {string | null} */
    this.sessionId = null;
    this.ready = Promise.resolve();
    this.stick = true;
  }

  connectedCallback() {
    if (this.started) return;
    this.started = true;
    this.configure();
    this.build();
    this.ready = this.restore();
    if (store.get(storage("sessionStorage"), this.openKey) === "1") this.open(false);
  }

  configure() {
    const data = this.dataset;
    const { lang, t } = strings(data.lang || document.documentElement.lang);
    this.lang = lang;
    this.t = t;
    const base = new URL(resolve(data.apiUrl || "/") || "/", document.baseURI);
    const apiUrl = base.origin + base.pathname.replace(/\/+$/, "");
    this.api = new ChatApi(apiUrl, data.apiKey || "");
    this.title = data.title || t.title;
    this.welcome = data.welcome || t.welcome;
    this.placeholder = data.placeholder || t.placeholder;
    this.handoffUrl = safeUrl(resolve(data.handoffUrl || ""));
    this.sessionKey = `chatbot-widget:session:${apiUrl}`;
    this.openKey = `chatbot-widget:open:${apiUrl}`;
  }

  build() {
    const t = this.t;
    if ("adoptedStyleSheets" in this.shadow && "replaceSync" in CSSStyleSheet.prototype) {
      // A constructed sheet also works under a page CSP without 'unsafe-inline' styles.
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLES);
      this.shadow.adoptedStyleSheets = [sheet];
    } else {
      this.shadow.append(el("style", {}, STYLES));
    }

    this.launcher = el("button", {
      type: "button",
      class: "launcher",
      "aria-expanded": "false",
      "aria-controls": "panel",
      "aria-label": `${t.open}: ${this.title}`,
      title: this.title,
    });
    this.launcherOpen = icon("chat");
    this.launcherClose = icon("down");
    this.launcherClose.toggleAttribute("hidden", true); // SVG elements have no .hidden
    this.launcher.append(this.launcherOpen, this.launcherClose);

    const iconButton = (name, label, glyph) => {
      const button = el("button", {
        type: "button",
        class: `icon-btn ${name}`,
        "aria-label": label,
        title: label,
      });
      button.append(icon(glyph));
      return button;
    };
    const newButton = iconButton("new", t.newConversation, "edit");
    const closeButton = iconButton("close", t.close, "close");

    this.log = el("div", {
      class: "log",
      role: "log",
      "aria-live": "polite",
      "aria-label": t.log,
      tabindex: "0",
    });
    this.input = /** @type {HTMLTextAreaElement} */ (
      el("textarea", {
        id: "input",
        rows: "1",
        maxlength: String(MAX_CHARS),
        placeholder: this.placeholder,
        enterkeyhint: "send",
        autocomplete: "off",
      })
    );
    this.sendButton = el("button", { type: "submit", class: "send", "aria-label": t.send, title: t.send });
    this.sendButton.append(icon("send"));
    this.stopButton = el("button", { type: "button", class: "stop", "aria-label": t.stop, title: t.stop });
    this.stopButton.append(icon("stop"));
    this.stopButton.hidden = true;
    this.form = /** @type {HTMLFormElement} */ (
      el(
        "form",
        { "aria-label": t.input },
        el("label", { for: "input", class: "sr-only" }, t.input),
        this.input,
        this.sendButton,
        this.stopButton,
      )
    );

    this.panel = el(
      "section",
      { id: "panel", class: "panel", role: "dialog", "aria-labelledby": "title" },
      el("header", {}, el("h2", { id: "title" }, this.title), newButton, closeButton),
      this.log,
      this.form,
      el("p", { class: "disclaimer" }, t.disclaimer),
    );
    this.panel.hidden = true;

    this.root = el("div", { class: "root", lang: this.lang }, this.panel, this.launcher);
    this.shadow.append(this.root);
    const color = this.dataset.color;
    if (color && CSS.supports("color", color)) {
      this.root.style.setProperty("--chat-accent", color);
      this.root.style.setProperty("--chat-on-accent", textOn(color, this.root));
    }
    this.showWelcome();

    this.launcher.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    closeButton.addEventListener("click", () => this.close());
    newButton.addEventListener("click", () => this.newConversation());
    this.stopButton.addEventListener("click", () => this.stop());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.input.value;
      if (this.controller || !text.trim()) return;
      this.input.value = "";
      this.resize();
      this.send(text);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.input.addEventListener("input", () => this.resize());
    this.log.addEventListener("scroll", () => {
      const log = this.log;
      this.stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    });
    this.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.panel.hidden) {
        event.stopPropagation();
        this.close();
      }
    });
  }

  showWelcome() {
    const welcome = new BotMessage(this, false);
    welcome.node.classList.add("welcome");
    welcome.bubble.hidden = false;
    welcome.bubble.append(el("p", {}, this.welcome)); // the page's own text, still as text
    this.log.append(welcome.node);
  }

  /** Reload the stored session's history (masked by the server). */
  async restore() {
    const id = store.get(storage("localStorage"), this.sessionKey);
    if (!id) return;
    this.sessionId = id;
    try {
      const history = await this.api.history(id);
      if (!history) {
        this.forget();
        return;
      }
      for (const turn of history.turns || []) {
        this.addUser(String(turn.user ?? ""));
        const bot = new BotMessage(this, false);
        this.log.append(bot.node);
        bot.finish({ ...turn, session_id: id }, false);
      }
      this.scrollToEnd();
    } catch {
      // history unavailable for now: the conversation goes on with the same session
    }
  }

  forget() {
    this.sessionId = null;
    store.set(storage("localStorage"), this.sessionKey, null);
  }

  open(focus = true) {
    this.panel.hidden = false;
    this.root.classList.add("open");
    this.launcher.setAttribute("aria-expanded", "true");
    this.launcher.setAttribute("aria-label", this.t.close);
    this.launcherOpen.toggleAttribute("hidden", true);
    this.launcherClose.toggleAttribute("hidden", false);
    store.set(storage("sessionStorage"), this.openKey, "1");
    this.scrollToEnd();
    if (focus) this.input.focus();
  }

  close() {
    this.panel.hidden = true;
    this.root.classList.remove("open");
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.setAttribute("aria-label", `${this.t.open}: ${this.title}`);
    this.launcherOpen.toggleAttribute("hidden", false);
    this.launcherClose.toggleAttribute("hidden", true);
    store.set(storage("sessionStorage"), this.openKey, null);
    this.launcher.focus();
  }

  resize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight + 2, 132)}px`;
  }

  /** Keep the newest message in view, unless the visitor scrolled up to read. */
  follow() {
    if (this.stick) this.scrollToEnd();
  }

  scrollToEnd() {
    this.stick = true;
    this.log.scrollTop = this.log.scrollHeight;
  }

  /** @param {string} text */
  addUser(text) {
    this.log.append(
      el(
        "div",
        { class: "msg user" },
        el("span", { class: "sr-only" }, `${this.t.you}: `),
        el("div", { class: "bubble" }, text),
      ),
    );
    this.scrollToEnd();
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    const hadFocus = this.shadow.activeElement;
    this.sendButton.hidden = busy;
    this.stopButton.hidden = !busy;
    if (busy && hadFocus === this.sendButton) this.stopButton.focus();
    if (!busy && hadFocus === this.stopButton) this.input.focus();
  }

  stop() {
    if (!this.controller) return;
    this.stopRequested = true;
    this.controller.abort();
  }

  /**
   * Send one message and stream the answer.
   * @param {string} message
   * @param {{retry?: boolean, handoff?: boolean}} [options]
   */
  async send(message, options = {}) {
    const text = message.trim().slice(0, MAX_CHARS);
    if (!text || this.controller) return;
    const controller = new AbortController();
    this.controller = controller; // taken before any await: one turn at a time
    this.stopRequested = false;
    this.setBusy(true);
    if (this.panel.hidden) this.open(false);
    await this.ready; // the reloaded history comes first
    if (!options.retry) this.addUser(text);
    const bot = new BotMessage(this, true);
    this.log.append(bot.node);
    this.scrollToEnd();
    /** @type {any} */
    let done = null;
    let streamed = "";
    try {
      await this.api.stream({ message: text, session_id: this.sessionId }, controller.signal, (event, data) => {
        if (event === "token") {
          streamed += String(data?.text ?? "");
          bot.setText(streamed);
        } else if (event === "retract") {
          streamed = String(data?.text ?? "");
          bot.setText(streamed, true);
        } else if (event === "citations") {
          bot.sources(data);
        } else if (event === "done") {
          done = data;
        } else if (event === "error") {
          throw new ApiError(Number(data?.status) || 500, String(data?.detail || ""));
        }
      });
      if (!done) throw new ApiError(0, "the answer stream ended early");
      this.sessionId = String(done.session_id);
      store.set(storage("localStorage"), this.sessionKey, this.sessionId);
      bot.finish(done, true);
      if (done.guardrails?.handoff || options.handoff) this.handoff(done);
    } catch (error) {
      controller.abort(); // close the connection: the server stops generating
      if (this.stopRequested) {
        bot.stopped();
      } else {
        bot.failed(error, () => {
          bot.node.remove();
          this.send(text, { ...options, retry: true });
        });
      }
    } finally {
      this.controller = null;
      this.setBusy(false);
    }
  }

  /** @param {any} done */
  handoff(done) {
    const detail = { session_id: done.session_id, message_id: done.message_id };
    this.dispatchEvent(new CustomEvent("chatbot:handoff", { bubbles: true, composed: true, detail }));
    if (this.handoffUrl) {
      const link = el("a", {
        class: "pill",
        href: this.handoffUrl,
        target: "_blank",
        rel: "noopener noreferrer",
      });
      link.append(icon("person"), this.t.handoff);
      const last = this.log.lastElementChild;
      last?.append(link);
    }
  }

  /** Forget the conversation here and on the server, and start again. */
  async newConversation() {
    this.stop();
    const id = this.sessionId;
    this.forget();
    this.log.replaceChildren();
    this.showWelcome();
    this.input.focus();
    if (id) {
      try {
        await this.api.erase(id);
      } catch {
        // the server forgets it anyway when the session expires
      }
    }
  }
}
