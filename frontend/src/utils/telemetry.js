/**
 * Behavioural telemetry items as the server accepts them (ARCHITECTURE section 4): timings
 * and positions only. Items are rebuilt field by field, so nothing else an application puts
 * on them (a `key`, a `value`, the typed text) ever leaves the browser.
 */

export const KEY_CLASSES = [
  'letter',
  'digit',
  'space',
  'enter',
  'backspace',
  'shift',
  'punct',
  'other',
];

/**
 * The class of a KeyboardEvent's `key`, the only thing about a key that is sent.
 * @param {string} key e.g. event.key
 * @returns {string} one of KEY_CLASSES
 */
export function keyClass(key) {
  if (typeof key !== 'string') return 'other';
  if (key === ' ') return 'space';
  if (key === 'Enter') return 'enter';
  if (key === 'Backspace') return 'backspace';
  if (key === 'Shift') return 'shift';
  if (key.length !== 1) return 'other';
  if (/\p{L}/u.test(key)) return 'letter';
  if (/\p{Nd}/u.test(key)) return 'digit';
  if (/[\p{P}\p{S}]/u.test(key)) return 'punct';
  return 'other';
}

function items(list, name, pick) {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new TypeError(`${name} must be an array`);
  return list.map(pick);
}

/**
 * A batch reduced to the wire fields: keystroke {field, seq, cls, down, up}, mouse movement
 * {x, y, t}, click {x, y, button, down, up}.
 */
export function cleanBatch({ keystrokes, mouseMovements, clicks } = {}) {
  return {
    keystrokes: items(keystrokes, 'keystrokes', ({ field, seq, cls, down, up }) => ({
      field,
      seq,
      cls,
      down,
      up,
    })),
    mouseMovements: items(mouseMovements, 'mouseMovements', ({ x, y, t }) => ({ x, y, t })),
    clicks: items(clicks, 'clicks', ({ x, y, button, down, up }) => ({ x, y, button, down, up })),
  };
}
