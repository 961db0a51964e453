// The admin console: sign-in, the hash routes (#/gaps, #/turns/<id>, ...) and the pages.
import { forgetKey, request, storedKey, storeKey, whenKeyRefused } from "./api.js";
import { clear } from "./dom.js";
import { feedbackPage } from "./feedback.js";
import { gapsPage } from "./gaps.js";
import { handoffsPage } from "./handoffs.js";
import { ingestPage } from "./ingest.js";
import { turnsPage } from "./turns.js";
import { versionsPage } from "./versions.js";

const PAGES = {
  gaps: { title: "FAQ gaps", render: gapsPage },
  feedback: { title: "Feedback", render: feedbackPage },
  handoffs: { title: "Handoffs", render: handoffsPage },
  turns: { title: "Recent turns", render: turnsPage },
  index: { title: "Index versions", render: versionsPage },
  ingest: { title: "Ingest documents", render: ingestPage },
};
const DEFAULT_PAGE = "gaps";

const $ = (id) => document.getElementById(id);
let rendering = 0;

function announce(text) {
  $("announce").textContent = text;
}

function route() {
  const [name, ...rest] = window.location.hash.replace(/^#\/?/, "").split("/");
  const page = Object.hasOwn(PAGES, name) ? name : DEFAULT_PAGE;
  return { page, arg: rest.length ? decodeURIComponent(rest.join("/")) : "" };
}

function showSignIn(message = "") {
  $("pages").hidden = true;
  $("sign-out").hidden = true;
  $("page").hidden = true;
  clear($("page-body"));
  $("sign-in").hidden = false;
  const text = $("sign-in-message");
  text.textContent = message;
  text.classList.toggle("error", Boolean(message));
  const input = $("admin-key");
  input.setAttribute("aria-invalid", message ? "true" : "false");
  document.title = "Sign in · Support console";
  input.focus();
}

async function showPage(focus = true) {
  const { page, arg } = route();
  const { title, render } = PAGES[page];
  $("sign-in").hidden = true;
  $("pages").hidden = false;
  $("sign-out").hidden = false;
  $("page").hidden = false;
  for (const a of document.querySelectorAll("#pages a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  $("page-title").textContent = title;
  document.title = `${title} · Support console`;
  const body = clear($("page-body"));
  body.dataset.page = page;
  const mine = ++rendering;
  if (focus) $("page-title").focus();
  announce(`${title} page`);
  try {
    await render(body, { arg, announce, current: () => mine === rendering });
  } catch (error) {
    if (mine === rendering && !error.refusedKey) throw error;
  }
}

async function signIn(event) {
  event.preventDefault();
  const input = $("admin-key");
  const key = input.value.trim();
  if (!key) {
    showSignIn("Enter an admin key.");
    return;
  }
  const button = event.submitter || $("sign-in-form").querySelector("button");
  button.disabled = true;
  try {
    await request("GET", "/admin/index", { key });
    storeKey(key);
    input.value = "";
    $("sign-in-message").textContent = "";
    if (!window.location.hash) window.location.hash = `#/${DEFAULT_PAGE}`;
    await showPage();
  } catch (error) {
    const why = error.refusedKey
      ? `This key was refused (${error.detail || error.title}). Check the key and try again.`
      : `Sign-in failed: ${error.detail || error.title}`;
    showSignIn(why);
  } finally {
    button.disabled = false;
  }
}

function signOut() {
  forgetKey();
  rendering++;
  showSignIn();
  $("sign-in-message").textContent = "Signed out.";
}

/** Arrow keys, Home and End move between the page links, as in a tab list. */
function navKeys(event) {
  const links = [...document.querySelectorAll("#pages a")];
  const at = links.indexOf(document.activeElement);
  if (at < 0) return;
  const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: links.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  links[(moves[event.key] + links.length) % links.length].focus();
}

function start() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("pages").addEventListener("keydown", navKeys);
  $("pages").addEventListener("click", (event) => {
    // The current page's link loads that page again (no hashchange fires for it).
    const a = event.target.closest("a");
    if (a && a.getAttribute("href") === window.location.hash && storedKey()) {
      event.preventDefault();
      showPage();
    }
  });
  whenKeyRefused((error) => {
    forgetKey();
    rendering++;
    showSignIn(`Your key was refused (${error.detail || error.title}): sign in again.`);
  });
  window.addEventListener("hashchange", () => {
    if (storedKey()) showPage();
  });
  if (storedKey()) showPage(false);
  else showSignIn();
  document.body.dataset.ready = "true";
}

start();
