// The widget's shadow DOM: its stylesheet, the launcher button and the chat panel (header, log,
// input form, disclaimer), plus the data-color accent. Built here, wired up by widget.js.
import { el } from "./dom.js";
import { icon } from "./icons.js";
import STYLES from "./widget.css";

/** The longest message the input takes; send() cuts programmatic text to it too. */
export const MAX_CHARS = 2000;

/** @param {ShadowRoot} shadow */
export function adoptStyles(shadow) {
  if ("adoptedStyleSheets" in shadow && "replaceSync" in CSSStyleSheet.prototype) {
    // A constructed sheet also works under a page CSP without 'unsafe-inline' styles.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.append(el("style", {}, STYLES));
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

/**
 * Set the accent custom properties from data-color; an invalid colour keeps the stylesheet's.
 * @param {HTMLElement} root connected, so the colour can be resolved
 * @param {string | undefined} color
 */
export function applyAccent(root, color) {
  if (color && CSS.supports("color", color)) {
    root.style.setProperty("--chat-accent", color);
    root.style.setProperty("--chat-on-accent", textOn(color, root));
  }
}

/**
 * @param {string} name
 * @param {string} label
 * @param {Parameters<typeof icon>[0]} glyph
 */
function iconButton(name, label, glyph) {
  const button = el("button", {
    type: "button",
    class: `icon-btn ${name}`,
    "aria-label": label,
    title: label,
  });
  button.append(icon(glyph));
  return button;
}

/** @param {Record<string, string>} t @param {string} title */
function createLauncher(t, title) {
  const launcher = el("button", {
    type: "button",
    class: "launcher",
    "aria-expanded": "false",
    "aria-controls": "panel",
    "aria-label": `${t.open}: ${title}`,
    title,
  });
  const launcherOpen = icon("chat");
  const launcherClose = icon("down");
  launcherClose.toggleAttribute("hidden", true); // SVG elements have no .hidden
  launcher.append(launcherOpen, launcherClose);
  return { launcher, launcherOpen, launcherClose };
}

/** @param {Record<string, string>} t @param {string} placeholder */
function createForm(t, placeholder) {
  const input = /** @type {HTMLTextAreaElement} */ (
    el("textarea", {
      id: "input",
      rows: "1",
      maxlength: String(MAX_CHARS),
      placeholder,
      enterkeyhint: "send",
      autocomplete: "off",
    })
  );
  const sendButton = el("button", { type: "submit", class: "send", "aria-label": t.send, title: t.send });
  sendButton.append(icon("send"));
  const stopButton = el("button", { type: "button", class: "stop", "aria-label": t.stop, title: t.stop });
  stopButton.append(icon("stop"));
  stopButton.hidden = true;
  const form = /** @type {HTMLFormElement} */ (
    el(
      "form",
      { "aria-label": t.input },
      el("label", { for: "input", class: "sr-only" }, t.input),
      input,
      sendButton,
      stopButton,
    )
  );
  return { form, input, sendButton, stopButton };
}

/**
 * The launcher and the (hidden) panel inside one root element, not yet attached.
 * @param {Record<string, string>} t the language's strings
 * @param {{title: string, placeholder: string, lang: string}} options
 */
export function createPanel(t, { title, placeholder, lang }) {
  const { launcher, launcherOpen, launcherClose } = createLauncher(t, title);
  const newButton = iconButton("new", t.newConversation, "edit");
  const closeButton = iconButton("close", t.close, "close");
  const log = el("div", {
    class: "log",
    role: "log",
    "aria-live": "polite",
    "aria-label": t.log,
    tabindex: "0",
  });
  const { form, input, sendButton, stopButton } = createForm(t, placeholder);
  const panel = el(
    "section",
    { id: "panel", class: "panel", role: "dialog", "aria-labelledby": "title" },
    el("header", {}, el("h2", { id: "title" }, title), newButton, closeButton),
    log,
    form,
    el("p", { class: "disclaimer" }, t.disclaimer),
  );
  panel.hidden = true;
  const root = el("div", { class: "root", lang }, panel, launcher);
  return {
    root,
    panel,
    launcher,
    launcherOpen,
    launcherClose,
    newButton,
    closeButton,
    log,
    form,
    input,
    sendButton,
    stopButton,
  };
}
