// Web Storage that may be missing or refuse (private windows, sandboxed frames): the widget
// keeps its session id in localStorage and whether the panel is open in sessionStorage.

export const store = {
  /** @param {Storage | undefined} area @param {string} key */
  get(area, key) {
    try {
      return area ? area.getItem(key) : null;
    } catch {
      return null;
    }
  },
  /** @param {Storage | undefined} area @param {string} key @param {string | null} value */
  set(area, key, value) {
    try {
      if (!area) return;
      if (value === null) area.removeItem(key);
      else area.setItem(key, value);
    } catch {
      // storage refused: the conversation just won't survive a reload
    }
  },
};

/**
 * The named storage area, or undefined where even reading `window.localStorage` throws.
 * @param {string} name
 */
export function storage(name) {
  try {
    return /** @type {Storage} */ (window[/** @type {"localStorage"} */ (name)]);
  } catch {
    return undefined;
  }
}
