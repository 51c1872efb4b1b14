/**
 * A bounded buffer of messages kept while offline (behavioural telemetry batches), sent in order
 * once back online. When full, the oldest message is dropped and counted.
 */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class OfflineBuffer {
  /** @param {number} limit the most messages kept */
  constructor(limit) {
    Object.assign(this, { limit, items: [], dropped: 0, flushing: false });
  }

  get length() {
    return this.items.length;
  }

  /** Keep a message; returns true when that dropped the oldest one. */
  push(item) {
    this.items.push(item);
    if (this.items.length <= this.limit) return false;
    this.items.shift();
    this.dropped += 1;
    return true;
  }

  /**
   * Send the messages oldest first, one at a time, with `send(item) → Promise<ack>` while
   * `online()`. A message leaves the buffer once acknowledged or refused for good
   * (`isFinal(ack)`); otherwise (rate limited, no answer) the flush waits `retryMs` and tries
   * again, giving up after `maxRetries` failures in a row (the rest waits for the next flush).
   * A message whose connection is lost mid-flight stays and is sent again: at least once.
   * @returns {Promise<{sent: number, failed: number, remaining: number} | null>} null when a
   *   flush was already running
   */
  async flush(send, online, { isFinal, retryMs = 1000, maxRetries = 5 }) {
    if (this.flushing) return null;
    this.flushing = true;
    const result = { sent: 0, failed: 0, remaining: 0 };
    let retries = 0;
    try {
      while (this.items.length && online() && retries < maxRetries) {
        const ack = await send(this.items[0]);
        if (!online()) break;
        if (ack.ok || isFinal(ack)) {
          this.items.shift();
          result[ack.ok ? 'sent' : 'failed'] += 1;
          retries = 0;
        } else {
          retries += 1;
          await sleep(retryMs);
        }
      }
    } finally {
      this.flushing = false;
    }
    result.remaining = this.items.length;
    return result;
  }
}
