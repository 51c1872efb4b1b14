/**
 * Reconnection delays: exponential backoff with full jitter.
 *
 * The n-th retry after a loss (n = 0, 1, 2, …) waits a uniformly random time in
 * [0, min(cap, base · 2^n)), so that thousands of browsers dropped by the same server restart
 * do not come back in lock-step. The count restarts at 0 once a connection succeeds.
 */

export const DEFAULT_BASE_DELAY_MS = 1000;
export const DEFAULT_MAX_DELAY_MS = 30000;

/**
 * Delay before retry number `attempt` (0-based).
 *
 * @param {number} attempt retries already made since the last successful connection
 * @param {{baseDelayMs?: number, maxDelayMs?: number, random?: () => number}} [options]
 *   `random` returns a number in [0, 1) (default Math.random; tests inject their own)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, options = {}) {
  const base = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const cap = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const random = options.random ?? Math.random;
  // 2 ** attempt overflows to Infinity long after the cap applies; min() keeps it finite.
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return ceiling * random();
}
