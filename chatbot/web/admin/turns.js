// Recent turns with their provenance: sources and scores, rail verdicts, index and prompt
// versions, engine, timings.
import { get } from "./api.js";
import { button, clear, el, facts, field, link, moment, notice, select, table } from "./dom.js";

const OUTCOMES = [
  ["", "All"],
  ["curated", "Curated (FAQ answer as written)"],
  ["faq_entry", "Closest FAQ entry"],
  ["model", "Model (grounded)"],
  ["fallback", "Fallback"],
  ["abstain", "Abstained"],
  ["rails", "Rails (dialog or refusal)"],
];
const PREVIEW = 160;

export async function turnsPage(body, { arg, announce, current }) {
  const outcome = select("answered_by", OUTCOMES);
  const session = el("input", { name: "session_id", type: "text", spellcheck: "false" });
  const filters = el(
    "form",
    { class: "filters", "aria-label": "Filter turns" },
    field("turns-answered-by", "Answered by", outcome),
    field("turns-session", "Session id", session),
    el("button", { type: "submit" }, "Show"),
  );
  const detail = el("section", { class: "detail", id: "turn-detail", "aria-live": "polite" });
  const results = el("div", { class: "results" });
  body.append(detail, filters, results);

  const showTurn = async (messageId, focus) => {
    clear(detail).append(notice("info", "Loading the turn…"));
    try {
      const turn = await get(`/admin/turns/${encodeURIComponent(messageId)}`);
      if (!current()) return;
      clear(detail).append(provenance(turn, () => {
        clear(detail);
        history.replaceState(null, "", "#/turns");
        results.querySelector("button")?.focus();
      }));
      history.replaceState(null, "", `#/turns/${encodeURIComponent(messageId)}`);
      if (focus) {
        const heading = detail.querySelector("h2");
        heading.focus();
        heading.scrollIntoView({ block: "start" });
      }
      announce("Provenance shown");
    } catch (error) {
      if (error.refusedKey || !current()) throw error;
      clear(detail).append(notice("error", `Turn unavailable: ${error.detail || error.title}`));
    }
  };

  let rows = [];
  const load = async (before) => {
    if (!before) {
      rows = [];
      clear(results).append(notice("info", "Loading turns…"));
    }
    try {
      const page = await get("/admin/turns", {
        answered_by: outcome.value,
        session_id: session.value.trim(),
        before,
        limit: 50,
      });
      if (!current()) return;
      rows = rows.concat(page.turns);
      clear(results);
      if (!rows.length) {
        results.append(notice("info", "No turns match."));
        return;
      }
      results.append(
        table(
          "Turns",
          ["When", "Answered by", "Question", "Answer", "Provenance"],
          rows.map((t) => [
            moment(t.created_at),
            el("span", { class: `badge ${t.answered_by}` }, t.answered_by),
            t.question,
            preview(t.answer),
            button("Show", () => showTurn(t.message_id, true).catch(() => {}), {
              class: "secondary",
              "data-message-id": t.message_id,
              "aria-label": `Show the provenance of turn ${t.message_id}`,
            }),
          ]),
        ),
      );
      if (page.next_before) {
        results.append(button("Load older", () => load(page.next_before), { class: "secondary" }));
      }
      announce(`${rows.length} turns`);
    } catch (error) {
      if (error.refusedKey || !current()) throw error;
      clear(results).append(notice("error", `Turns unavailable: ${error.detail || error.title}`));
    }
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  if (arg) await showTurn(arg, false);
  await load();
}

function preview(text) {
  const value = String(text ?? "");
  return value.length > PREVIEW ? `${value.slice(0, PREVIEW)}…` : value;
}

function provenance(turn, close) {
  const box = el("div", { class: "card provenance", "data-message-id": turn.message_id });
  box.append(el("h2", { tabindex: "-1" }, "Provenance of turn ", el("code", {}, turn.message_id)));
  box.append(
    facts([
      ["When", moment(turn.created_at)],
      ["Session", turn.session_id],
      ["Answered by", turn.answered_by],
      ["Index version", turn.index_version],
      ["Prompt version", turn.prompt_version],
      ["Engine", [turn.engine_dialect, turn.engine_model].filter(Boolean).join(" · ") || null],
    ]),
  );
  box.append(
    el("h3", {}, "Question (as masked)"),
    el("p", { class: "text question" }, turn.question),
    el("h3", {}, "Answer"),
    el("p", { class: "text answer" }, turn.answer),
  );
  box.append(el("h3", {}, "Sources"));
  const citations = turn.citations || [];
  box.append(
    citations.length
      ? table(
          "Sources and their scores",
          ["Source", "Id", "Kind", "Score"],
          citations.map((c) => [
            link(c.url, c.title || c.id),
            c.id,
            c.kind,
            typeof c.score === "number" ? c.score.toFixed(3) : c.score,
          ]),
        )
      : el("p", { class: "muted" }, "No sources."),
  );
  const rails = turn.guardrails || {};
  box.append(
    el("h3", {}, "Rail verdicts"),
    facts(Object.entries(rails).map(([name, value]) => [name.replace(/_/g, " "), value]), "facts rails"),
  );
  const timings = Object.entries(turn.timings_ms || {});
  box.append(
    el("h3", {}, "Timings"),
    timings.length
      ? table("Timings in milliseconds", ["Stage", "ms"], timings.map(([stage, ms]) => [
          stage,
          typeof ms === "number" ? ms.toFixed(1) : ms,
        ]))
      : el("p", { class: "muted" }, "No timings."),
  );
  box.append(button("Close", close, { class: "secondary" }));
  return box;
}
