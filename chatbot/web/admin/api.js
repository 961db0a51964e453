// The admin API with the signed-in key. The key lives in this tab's sessionStorage only.
// Errors are problem+json (title, detail, status); a 401 or 403 signs the admin out.

const KEY = "chatbot-admin:key";

export class ApiError extends Error {
  constructor(status, title, detail, body) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title || `HTTP ${status}`;
    this.detail = detail || "";
    this.body = body || {};
  }

  get refusedKey() {
    return this.status === 401 || this.status === 403;
  }
}

export function storedKey() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // storage unavailable: nothing kept
  }
}

let onRefused = () => {};

/** Called with the ApiError whenever the API refuses the key. */
export function whenKeyRefused(callback) {
  onRefused = callback;
}

function problemOf(status, text) {
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = {};
  }
  if (body === null || typeof body !== "object") body = {};
  const title = typeof body.title === "string" ? body.title : `HTTP ${status}`;
  const detail = typeof body.detail === "string" ? body.detail : "";
  return new ApiError(status, title, detail, body);
}

/** A JSON request; resolves with the parsed body (null for 204), rejects with ApiError. */
export async function request(method, path, { body, params, key } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json, application/problem+json" };
  const token = key ?? storedKey();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, "The API cannot be reached", String(error.message || error));
  }
  const text = await response.text();
  if (!response.ok) {
    const error = problemOf(response.status, text);
    if (error.refusedKey && key === undefined) onRefused(error);
    throw error;
  }
  return text ? JSON.parse(text) : null;
}

export const get = (path, params) => request("GET", path, { params });

/** Upload files as multipart `files`; `onProgress(loaded, total)` while the body is sent,
 * `onSent()` once it is all sent (the server is then ingesting). */
export function upload(path, files, { onProgress, onSent } = {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append("files", file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json, application/problem+json");
    const token = storedKey();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.onprogress = (event) => {
      if (onProgress) onProgress(event.loaded, event.lengthComputable ? event.total : 0);
    };
    xhr.upload.onload = () => onSent && onSent();
    xhr.onerror = () => reject(new ApiError(0, "The API cannot be reached", "the upload failed"));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError(xhr.status, "Unreadable answer", "the summary is not JSON"));
        }
        return;
      }
      const error = problemOf(xhr.status, xhr.responseText);
      if (error.refusedKey) onRefused(error);
      reject(error);
    };
    xhr.send(form);
  });
}
