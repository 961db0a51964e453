// Customers' ratings of answers, newest first; each links to the rated turn's provenance.
import { get } from "./api.js";
import { button, clear, el, field, moment, notice, select, table } from "./dom.js";

export async function feedbackPage(body, { announce, current }) {
  const rating = select("rating", [["", "All"], ["down", "Thumbs down"], ["up", "Thumbs up"]]);
  const filters = el(
    "form",
    { class: "filters", "aria-label": "Filter feedback" },
    field("feedback-rating", "Rating", rating),
    el("button", { type: "submit" }, "Show"),
  );
  const results = el("div", { class: "results" });
  body.append(filters, results);
  let rows = [];
  const load = async (before) => {
    if (!before) {
      rows = [];
      clear(results).append(notice("info", "Loading feedback…"));
    }
    try {
      const page = await get("/admin/feedback", { rating: rating.value, before, limit: 100 });
      if (!current()) return;
      rows = rows.concat(page.feedback);
      clear(results);
      if (!rows.length) {
        results.append(notice("info", "No feedback yet."));
        return;
      }
      results.append(
        table(
          "Feedback",
          ["When", "Rating", "Comment", "Turn", "Session"],
          rows.map((f) => [
            moment(f.created_at),
            el("span", { class: `rating ${f.rating}` }, f.rating === "down" ? "Thumbs down" : "Thumbs up"),
            f.comment,
            el("a", { href: `#/turns/${encodeURIComponent(f.message_id)}` }, f.message_id),
            f.session_id,
          ]),
        ),
      );
      if (page.next_before) {
        results.append(button("Load older", () => load(page.next_before), { class: "secondary" }));
      }
      announce(`${rows.length} ratings`);
    } catch (error) {
      if (error.refusedKey || !current()) throw error;
      clear(results).append(notice("error", `Feedback unavailable: ${error.detail || error.title}`));
    }
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
}
