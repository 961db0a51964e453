// Handoffs to a person: delivery status, attempts, the last error and the transcript sent.
import { get } from "./api.js";
import { button, clear, el, facts, field, link, moment, notice, select } from "./dom.js";

const STATUSES = [
  ["", "All"],
  ["pending", "Pending"],
  ["delivered", "Delivered"],
  ["failed", "Failed"],
  ["not_configured", "No webhook configured"],
];

export async function handoffsPage(body, { announce, current }) {
  const status = select("status", STATUSES);
  const filters = el(
    "form",
    { class: "filters", "aria-label": "Filter handoffs" },
    field("handoffs-status", "Status", status),
    el("button", { type: "submit" }, "Show"),
  );
  const results = el("div", { class: "results" });
  body.append(filters, results);
  let shown = 0;
  const load = async (before) => {
    const list = before ? results.querySelector("ol.cards") : null;
    if (!before) {
      shown = 0;
      clear(results).append(notice("info", "Loading handoffs…"));
    }
    try {
      const page = await get("/admin/handoffs", { status: status.value, before, limit: 50 });
      if (!current()) return;
      const target = list || el("ol", { class: "cards" });
      if (!before) clear(results);
      results.querySelector(".more")?.remove();
      for (const handoff of page.handoffs) target.append(handoffCard(handoff, shown++));
      if (!shown) {
        results.append(notice("info", "No handoffs."));
        return;
      }
      if (!list) results.append(target);
      if (page.next_before) {
        results.append(
          button("Load older", () => load(page.next_before), { class: "secondary more" }),
        );
      }
      announce(`${shown} handoffs`);
    } catch (error) {
      if (error.refusedKey || !current()) throw error;
      clear(results).append(notice("error", `Handoffs unavailable: ${error.detail || error.title}`));
    }
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
}

function handoffCard(handoff, n) {
  const card = el("li", { class: "card handoff", "data-handoff-id": handoff.id });
  card.append(
    el("h2", {}, "Handoff ", moment(handoff.created_at), " ",
      el("span", { class: `badge ${handoff.status}` }, handoff.status.replace(/_/g, " "))),
    facts([
      ["Status", handoff.status.replace(/_/g, " ")],
      ["Attempts", handoff.attempts],
      ["Last error", handoff.last_error],
      ["Delivered", moment(handoff.delivered_at)],
      ["Session", handoff.session_id],
      [
        "Turn",
        handoff.message_id
          ? el("a", { href: `#/turns/${encodeURIComponent(handoff.message_id)}` }, handoff.message_id)
          : null,
      ],
      [
        "Asked about",
        handoff.about
          ? el("a", { href: `#/turns/${encodeURIComponent(handoff.about)}` }, handoff.about)
          : null,
      ],
    ]),
  );
  const transcript = el("ol", { class: "transcript", "aria-label": `Transcript ${n + 1}` });
  for (const line of handoff.transcript || []) {
    const who = line.role === "customer" ? "Customer" : "Assistant";
    transcript.append(
      el("li", { class: `line ${line.role === "customer" ? "customer" : "assistant"}` },
        el("span", { class: "who" }, `${who}: `), el("span", { class: "text" }, line.text)),
    );
  }
  card.append(el("h3", {}, "Transcript"), transcript);
  if ((handoff.sources || []).length) {
    card.append(
      el("h3", {}, "Sources shown"),
      el("ul", { class: "plain" }, handoff.sources.map((s) => el("li", {}, link(s.url, s.title || s.id)))),
    );
  }
  return card;
}
