// One streamed turn: the API's Server-Sent Events applied to the assistant's message as they
// arrive. The widget owns the abort controller, the session id and what happens after the turn.
import { ApiError } from "./api.js";

/**
 * Stream the answer to `body` into `bot`, and resolve with the stream's `done` event.
 * Rejects on an `error` event, a stream that ends without `done`, or an abort.
 * @param {import("./api.js").ChatApi} api
 * @param {{message: string, session_id?: string | null}} body
 * @param {AbortSignal} signal
 * @param {import("./message.js").BotMessage} bot
 */
export async function streamAnswer(api, body, signal, bot) {
  /** @type {any} */
  let done = null;
  let streamed = "";
  await api.stream(body, signal, (event, data) => {
    if (event === "token") {
      streamed += String(data?.text ?? "");
      bot.setText(streamed);
    } else if (event === "retract") {
      // a retraction replaces the whole text so far: shown at once, not on the next frame
      streamed = String(data?.text ?? "");
      bot.setText(streamed, true);
    } else if (event === "citations") {
      bot.sources(data);
    } else if (event === "done") {
      done = data;
    } else if (event === "error") {
      throw new ApiError(Number(data?.status) || 500, String(data?.detail || ""));
    }
  });
  if (!done) throw new ApiError(0, "the answer stream ended early");
  return done;
}
