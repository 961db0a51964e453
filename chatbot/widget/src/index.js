// The embed loader: `<script src=".../widget.js" data-api-url=... async>` defines
// <chatbot-widget> and adds one to the page with the script tag's data-* options. Without
// data-api-url the API is the one that served this script.
import { ChatWidget, TAG } from "./widget.js";

const script = /** @type {HTMLScriptElement | null} */ (document.currentScript);

if (!customElements.get(TAG)) customElements.define(TAG, ChatWidget);

function mount() {
  // A page may place <chatbot-widget> itself; a script included twice adds no second one.
  if (!script || document.querySelector(TAG)) return;
  const widget = document.createElement(TAG);
  for (const { name, value } of Array.from(script.attributes)) {
    if (name.startsWith("data-")) widget.setAttribute(name, value);
  }
  if (!widget.hasAttribute("data-api-url")) {
    widget.setAttribute("data-api-url", new URL(".", script.src).href);
  }
  document.body.append(widget);
}

if (document.body) mount();
else document.addEventListener("DOMContentLoaded", mount, { once: true });
