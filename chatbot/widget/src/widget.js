// <chatbot-widget>: a launcher button and a chat panel in a shadow root.
//
// Options (attributes, copied from the <script> tag by the loader): data-api-url, data-api-key,
// data-title, data-welcome, data-placeholder, data-color, data-lang, data-handoff-url.
// Methods for host pages: open(), close(), send(text). Event: `chatbot:handoff` (bubbles,
// composed) with detail {session_id, message_id} when the visitor asks for a person, so the
// page can open its own live chat or ticket form.
//
// Everything the server sends is untrusted: user text and titles go in as text nodes, answers
// through the sanitiser in markdown.js, URLs through safeUrl. The DOM is built in panel.js,
// assistant messages in message.js, a streamed turn in conversation.js.
import { ChatApi } from "./api.js";
import { streamAnswer } from "./conversation.js";
import { el, resolve } from "./dom.js";
import { strings } from "./i18n.js";
import { icon } from "./icons.js";
import { safeUrl } from "./markdown.js";
import { BotMessage } from "./message.js";
import { MAX_CHARS, adoptStyles, applyAccent, createPanel } from "./panel.js";
import { store, storage } from "./storage.js";

export const TAG = "chatbot-widget";

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
    adoptStyles(this.shadow);
    const { newButton, closeButton, ...parts } = createPanel(this.t, {
      title: this.title,
      placeholder: this.placeholder,
      lang: this.lang,
    });
    this.root = parts.root;
    this.panel = parts.panel;
    this.launcher = parts.launcher;
    this.launcherOpen = parts.launcherOpen;
    this.launcherClose = parts.launcherClose;
    this.log = parts.log;
    this.form = parts.form;
    this.input = parts.input;
    this.sendButton = parts.sendButton;
    this.stopButton = parts.stopButton;
    this.shadow.append(this.root);
    applyAccent(this.root, this.dataset.color); // after attaching: it resolves the colour
    this.showWelcome();

    this.launcher.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    closeButton.addEventListener("click", () => this.close());
    newButton.addEventListener("click", () => this.newConversation());
    this.stopButton.addEventListener("click", () => this.stop());
    this.bindInput();
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

  /** Enter sends, Shift+Enter breaks the line; the textarea grows with its text. */
  bindInput() {
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
    try {
      const request = { message: text, session_id: this.sessionId };
      const done = await streamAnswer(this.api, request, controller.signal, bot);
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
