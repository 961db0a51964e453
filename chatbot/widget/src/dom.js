// DOM helpers shared by the widget's modules.

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} children text children become text nodes, never markup
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/**
 * An absolute URL for `url` (relative to the page), or "" when it is not one.
 * @param {string} url
 */
export function resolve(url) {
  try {
    return url ? new URL(url, document.baseURI).href : "";
  } catch {
    return "";
  }
}
