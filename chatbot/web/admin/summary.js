// An ingest summary (POST /admin/ingest/files, and the `ingest` of an FAQ answer) and its
// regression gate: what was published, what changed, what to check.
import { el, facts, notice, show, table } from "./dom.js";

const REASON_KEYS = ["reason", "refused", "detail", "message"];

/** The gate's figures as a list; its reason (why a version was not published) first. */
export function gateView(gate) {
  if (!gate || typeof gate !== "object") return null;
  const box = el("section", { class: "gate", "aria-label": "Regression gate" });
  box.append(el("h3", {}, "Regression gate"));
  const passed = gate.passed ?? gate.ok ?? gate.published;
  if (passed === true) box.append(notice("ok", "The gate passed."));
  if (passed === false && gate.forced) {
    box.append(notice("warn", "The gate refused this version; it was published anyway (forced)."));
  } else if (passed === false) {
    box.append(notice("warn", "The gate refused this version."));
  }
  for (const name of REASON_KEYS) {
    if (typeof gate[name] === "string" && gate[name]) {
      box.append(el("p", { class: "gate-reason" }, gate[name]));
    }
  }
  const rest = Object.entries(gate).filter(([name]) => !REASON_KEYS.includes(name));
  if (rest.length) box.append(facts(rest.map(([name, value]) => [label(name), value])));
  return box;
}

function label(name) {
  return name.replace(/_/g, " ");
}

export function summaryView(summary) {
  const box = el("section", { class: "summary", "aria-label": "Ingest summary" });
  box.append(el("h3", {}, "Ingest summary"));
  if (summary.published) {
    box.append(notice("ok", `Published index version ${summary.version}.`));
  } else if (summary.dry_run) {
    box.append(notice("warn", "Dry run: nothing was published."));
  } else {
    box.append(notice("warn", `Version ${summary.version ?? "—"} was not published.`));
  }
  const chunks = summary.chunks || {};
  box.append(
    facts([
      ["Version", summary.version],
      ["Previous version", summary.previous_version],
      ["Published", summary.published],
      ["Added", summary.added],
      ["Updated", summary.updated],
      ["Unchanged", summary.unchanged],
      ["Removed", summary.removed],
      ["Failed", summary.failed],
      ["Flagged chunks", summary.flagged],
      ["Chunks", `${chunks.total ?? "—"} (${chunks.embedded ?? 0} embedded, ${chunks.reused ?? 0} reused)`],
      ["Seconds", summary.seconds],
    ]),
  );
  const gate = gateView(summary.gate);
  if (gate) box.append(gate);
  const documents = (summary.documents || []).filter((d) => d.status !== "unchanged");
  if (documents.length) {
    box.append(
      table(
        "Documents changed",
        ["Document", "Status", "Chunks", "Error", "Warnings", "Flagged"],
        documents.map((d) => [d.source, d.status, d.chunks, d.error, d.warnings, d.flagged]),
      ),
    );
  }
  const derived = summary.derived;
  if (derived && typeof derived === "object") {
    const details = el("details", {}, el("summary", {}, "Derived from this version"));
    details.append(show(derived));
    box.append(details);
  }
  return box;
}
