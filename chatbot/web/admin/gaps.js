// FAQ gaps: questions the bot could not answer well, grouped; answer one in place.
import { get, request } from "./api.js";
import { button, clear, el, facts, field, moment, notice, select } from "./dom.js";
import { gateView, summaryView } from "./summary.js";

const REASONS = {
  abstain: "no answer",
  retracted: "retracted",
  withheld: "withheld",
  handoff: "handed off",
  thumbs_down: "thumbs down",
};

export async function gapsPage(body, { announce, current }) {
  const status = select("status", [["open", "Open"], ["answered", "Answered"]], "open");
  const filters = el(
    "form",
    { class: "filters", "aria-label": "Filter gaps" },
    field("gaps-status", "Status", status),
    el("button", { type: "submit" }, "Show"),
  );
  const results = el("div", { class: "results" });
  body.append(filters, results);
  const load = async () => {
    clear(results).append(notice("info", "Loading gaps…"));
    try {
      const page = await get("/admin/gaps", { status: status.value, limit: 100 });
      if (!current()) return;
      clear(results).append(gapList(page, announce));
      announce(`${page.gaps.length} gaps`);
    } catch (error) {
      if (error.refusedKey || !current()) throw error;
      clear(results).append(notice("error", `Gaps unavailable: ${error.detail || error.title}`));
    }
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
}

function gapList(page, announce) {
  const wrap = el("div", {});
  wrap.append(
    el(
      "p",
      { class: "muted" },
      `${page.gaps.length} gaps from ${page.turns_considered ?? "—"} turns considered ` +
        `(questions at a similarity of ${page.similarity ?? "—"} or more are one gap).`,
    ),
  );
  if (!page.gaps.length) {
    wrap.append(notice("info", "No gaps: every recent question was answered."));
    return wrap;
  }
  const list = el("ol", { class: "cards" });
  page.gaps.forEach((gap, n) => list.append(gapCard(gap, n, announce)));
  wrap.append(list);
  return wrap;
}

function reasonsText(reasons) {
  const parts = Object.entries(reasons || {})
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${REASONS[name] || name.replace(/_/g, " ")}: ${count}`);
  return parts.length ? parts.join(", ") : "—";
}

function gapCard(gap, n, announce) {
  const examples = gap.examples || [];
  const headingId = `gap-${n}-title`;
  const card = el("li", { class: "card gap", "data-gap-id": gap.id });
  card.append(el("h2", { id: headingId }, examples[0] || `Gap ${gap.id}`));
  card.append(
    facts([
      ["Questions", gap.size],
      ["Reasons", reasonsText(gap.reasons)],
      ["First seen", moment(gap.first_seen)],
      ["Last seen", moment(gap.last_seen)],
      ["Answered by entry", gap.answered_by_entry || null],
    ]),
  );
  if (examples.length) {
    card.append(
      el("h3", {}, "Examples"),
      el("ul", { class: "examples" }, examples.map((text) => el("li", {}, text))),
    );
  }
  const slot = el("div", { class: "answer-slot", id: `gap-${n}-form` });
  const open = button("Answer", () => {
    if (slot.childElementCount) {
      closeForm();
      return;
    }
    open.setAttribute("aria-expanded", "true");
    slot.append(answerForm(gap, n, examples[0] || "", closeForm, announce));
    slot.querySelector("textarea").focus();
  }, { "aria-expanded": "false", "aria-controls": slot.id, class: "primary" });
  function closeForm() {
    clear(slot);
    open.setAttribute("aria-expanded", "false");
    open.focus();
  }
  if (!gap.answered_by_entry) card.append(open);
  card.append(slot);
  return card;
}

function answerForm(gap, n, question, close, announce) {
  const q = el("input", { name: "question", type: "text", required: true, maxlength: "2000" });
  q.value = question;
  const a = el("textarea", { name: "answer", rows: "5", required: true });
  const c = el("input", { name: "category", type: "text", maxlength: "200" });
  const result = el("div", { class: "result", "aria-live": "polite" });
  const submit = el("button", { type: "submit", class: "primary" }, "Publish answer");
  const form = el(
    "form",
    { class: "answer-form", "aria-label": "Answer this gap" },
    field(`gap-${n}-question`, "Question", q),
    field(`gap-${n}-answer`, "Answer", a),
    field(`gap-${n}-category`, "Category (optional)", c),
    el("div", { class: "actions" }, submit, button("Cancel", close, { class: "secondary" })),
    result,
  );
  const publish = async (force) => {
    const entry = { question: q.value.trim(), answer: a.value.trim(), gap_id: gap.id };
    if (c.value.trim()) entry.category = c.value.trim();
    if (!entry.question || !entry.answer) {
      clear(result).append(notice("error", "Write both a question and an answer."));
      return;
    }
    submit.disabled = true;
    clear(result).append(notice("info", "Publishing… (the regression gate runs first)"));
    try {
      const path = force ? "/admin/faq?force=true" : "/admin/faq";
      const reply = await request("POST", path, { body: entry });
      clear(result).append(
        notice("ok", `Published as FAQ entry ${reply.entry?.id ?? ""}.`),
        summaryView(reply.ingest || {}),
      );
      announce("Answer published");
    } catch (error) {
      if (error.refusedKey) throw error;
      clear(result);
      if (error.status === 409 && error.body.gate) {
        result.append(
          notice("warn", `The regression gate refused it: ${error.detail || error.title}`),
          gateView(error.body.gate),
          button("Publish anyway", () => publish(true).catch(() => {}), { class: "danger" }),
        );
        announce("The regression gate refused the answer");
      } else {
        result.append(notice("error", `Not published: ${error.detail || error.title}`));
      }
    } finally {
      submit.disabled = false;
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    publish(false).catch(() => {});
  });
  return form;
}
