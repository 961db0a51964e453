// What the bot knows: the served index version, the versions on disk, the documents, and
// the FAQ entries written here (edit or delete: each change publishes a new version).
import { get, request } from "./api.js";
import { button, clear, el, facts, field, moment, notice, table } from "./dom.js";
import { gateView, summaryView } from "./summary.js";

export async function versionsPage(body, { announce, current }) {
  const served = el("section", { class: "served", "aria-labelledby": "index-served" });
  const entries = el("section", { class: "entries", "aria-labelledby": "index-entries" });
  body.append(served, entries);
  await Promise.all([
    showIndex(served, current),
    showEntries(entries, announce, current),
  ]);
}

async function showIndex(box, current) {
  box.append(el("h2", { id: "index-served" }, "Served version"), notice("info", "Loading…"));
  try {
    const index = await get("/admin/index");
    if (!current()) return;
    clear(box).append(el("h2", { id: "index-served" }, "Served version"));
    if (!index.version) {
      box.append(notice("warn", "No index version is served yet: ingest documents first."));
      return;
    }
    box.append(
      facts([
        ["Version", index.version],
        ["Created", moment(index.created_at)],
        ["Embedding model", index.embedding_model],
        ["Dimension", index.dimension],
        ...Object.entries(index.counts || {}).map(([name, n]) => [name.replace(/_/g, " "), n]),
      ]),
      el("h3", {}, "Versions on disk"),
      el(
        "ul",
        { class: "versions" },
        (index.versions_on_disk || []).map((v) =>
          el("li", {}, v, v === index.version ? el("span", { class: "badge current" }, " served") : null),
        ),
      ),
      el("h3", {}, "Documents"),
      table(
        "Documents of the served version",
        ["Document", "Chunks", "Hash"],
        Object.entries(index.documents || {}).map(([name, d]) => [
          name,
          d.chunks,
          el("code", {}, String(d.hash || "").slice(0, 12)),
        ]),
      ),
    );
  } catch (error) {
    if (error.refusedKey || !current()) throw error;
    clear(box).append(
      el("h2", { id: "index-served" }, "Served version"),
      notice("error", `Index unavailable: ${error.detail || error.title}`),
    );
  }
}

async function showEntries(box, announce, current) {
  const heading = () => el("h2", { id: "index-entries" }, "FAQ entries written here");
  clear(box).append(heading(), notice("info", "Loading…"));
  try {
    const page = await get("/admin/faq");
    if (!current()) return;
    clear(box).append(heading());
    if (!page.entries.length) {
      box.append(notice("info", "None yet: answer a gap to add one."));
      return;
    }
    const list = el("ol", { class: "cards" });
    const reload = () => showEntries(box, announce, current);
    page.entries.forEach((entry, n) => list.append(entryCard(entry, n, reload, announce)));
    box.append(list);
  } catch (error) {
    if (error.refusedKey || !current()) throw error;
    clear(box).append(heading(), notice("error", `FAQ entries unavailable: ${error.detail || error.title}`));
  }
}

function entryCard(entry, n, reload, announce) {
  const card = el("li", { class: "card entry", "data-entry-id": entry.id });
  const view = el("div", {});
  const result = el("div", { class: "result", "aria-live": "polite" });
  const render = () => {
    clear(view).append(
      el("h3", {}, entry.question),
      el("p", { class: "text" }, entry.answer),
      facts([
        ["Id", entry.id],
        ["Category", entry.category],
        ["Gap", entry.gap_id],
        ["Created", moment(entry.created_at)],
        ["Updated", moment(entry.updated_at)],
      ]),
      el("div", { class: "actions" },
        button("Edit", () => edit(), { class: "secondary" }),
        button("Delete", () => askDelete(), { class: "danger" })),
    );
  };
  const edit = () => {
    const q = el("input", { type: "text", name: "question", required: true });
    q.value = entry.question;
    const a = el("textarea", { name: "answer", rows: "5", required: true });
    a.value = entry.answer;
    const c = el("input", { type: "text", name: "category" });
    c.value = entry.category || "";
    const form = el(
      "form",
      { class: "answer-form", "aria-label": `Edit entry ${entry.id}` },
      field(`entry-${n}-question`, "Question", q),
      field(`entry-${n}-answer`, "Answer", a),
      field(`entry-${n}-category`, "Category (optional)", c),
      el("div", { class: "actions" },
        el("button", { type: "submit", class: "primary" }, "Save and publish"),
        button("Cancel", () => { render(); view.querySelector("button").focus(); }, { class: "secondary" })),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { question: q.value.trim(), answer: a.value.trim() };
      if (c.value.trim()) body.category = c.value.trim();
      await change("PUT", body, "Saved");
    });
    clear(view).append(form);
    q.focus();
  };
  const askDelete = () => {
    clear(result).append(
      notice("warn", "Delete this entry? A new index version without it is published."),
      el("div", { class: "actions" },
        button("Delete for good", () => change("DELETE", undefined, "Deleted"), { class: "danger" }),
        button("Keep it", () => clear(result), { class: "secondary" })),
    );
    result.querySelector("button").focus();
  };
  const change = async (method, body, done, force = false) => {
    clear(result).append(notice("info", "Publishing… (the regression gate runs first)"));
    try {
      const path = `/admin/faq/${encodeURIComponent(entry.id)}${force ? "?force=true" : ""}`;
      const reply = await request(method, path, { body });
      if (reply?.entry) Object.assign(entry, reply.entry);
      render();
      clear(result).append(notice("ok", `${done}.`), summaryView(reply?.ingest || {}));
      announce(`${done}`);
      if (method === "DELETE") setTimeout(reload, 0);
    } catch (error) {
      if (error.refusedKey) return;
      clear(result);
      if (error.status === 409 && error.body.gate) {
        result.append(
          notice("warn", `The regression gate refused it: ${error.detail || error.title}`),
          gateView(error.body.gate),
          button("Publish anyway", () => change(method, body, done, true), { class: "danger" }),
        );
      } else {
        result.append(notice("error", `Not published: ${error.detail || error.title}`));
      }
    }
  };
  render();
  card.append(view, result);
  return card;
}
