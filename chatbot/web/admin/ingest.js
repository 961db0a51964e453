// Upload documents: a progress bar while the body is sent, then the ingest summary (what was
// published, what to check) including the regression gate.
import { upload } from "./api.js";
import { clear, el, field, notice } from "./dom.js";
import { summaryView } from "./summary.js";

const TYPES = ".csv,.json,.jsonl,.md,.markdown,.txt,.html,.htm,.pdf";

export async function ingestPage(body, { announce }) {
  const files = el("input", { type: "file", name: "files", multiple: true, accept: TYPES });
  const submit = el("button", { type: "submit", class: "primary" }, "Upload and ingest");
  const form = el(
    "form",
    { class: "upload", "aria-label": "Upload documents" },
    field("ingest-files", "FAQ documents", files, {
      hint: "CSV, JSON, JSON Lines, Markdown, text, HTML or PDF. They join the data folder and the whole folder is ingested.",
    }),
    submit,
  );
  const progressLabel = el("span", { id: "ingest-progress-label" }, "Upload progress");
  const bar = el("progress", { id: "ingest-progress", max: "100", value: "0", "aria-labelledby": "ingest-progress-label" });
  const state = el("p", { class: "progress-text", role: "status" }, "");
  const progress = el("div", { class: "progress", hidden: true }, progressLabel, bar, state);
  const result = el("div", { class: "result" });
  body.append(form, progress, result);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!files.files.length) {
      clear(result).append(notice("error", "Choose at least one file."));
      files.focus();
      return;
    }
    submit.disabled = true;
    clear(result);
    progress.hidden = false;
    bar.value = 0;
    bar.max = 100;
    state.textContent = "Uploading… 0%";
    try {
      const summary = await upload("/admin/ingest/files", [...files.files], {
        onProgress(loaded, total) {
          if (!total) return;
          const percent = Math.round((loaded / total) * 100);
          bar.value = percent;
          state.textContent = `Uploading… ${percent}%`;
        },
        onSent() {
          bar.value = 100;
          bar.dataset.sent = "true";
          state.textContent = "Uploaded. Ingesting…";
        },
      });
      bar.value = 100;
      state.textContent = summary.published ? "Done: a new version is served." : "Done.";
      result.append(summaryView(summary));
      announce("Ingest finished");
      result.querySelector("h3")?.setAttribute("tabindex", "-1");
      result.querySelector("h3")?.focus();
    } catch (error) {
      if (error.refusedKey) return;
      state.textContent = "Failed.";
      result.append(notice("error", `Not ingested: ${error.detail || error.title}`));
    } finally {
      submit.disabled = false;
    }
  });
}
