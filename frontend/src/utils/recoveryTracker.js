/**
 * Per-room offsets for missed-event recovery (ARCHITECTURE section 4, issue 4 item 6).
 *
 * Events the server sends to user, session and admin rooms carry `_meta: {room, offset}`,
 * offsets growing by 1 per room. The tracker remembers the last offset delivered per room,
 * drops events at or below it (duplicates), and, between a connection loss and the server's
 * `recovery` answer for a room, holds that room's events back so that replayed and live
 * events reach the application once each and in offset order.
 */

const byOffset = (a, b) => a[1]._meta.offset - b[1]._meta.offset;

export class RecoveryTracker {
  constructor() {
    /** @type {Map<string, number>} last offset delivered per room */
    this.last = new Map();
    /** @type {Map<string, Array<[string, object]>>} rooms awaiting `recovery`, with held events */
    this.pending = new Map();
  }

  /** The room's offset when it was joined (`room_joined`); kept if one is already known. */
  baseline(room, offset) {
    if (!this.last.has(room)) this.last.set(room, offset);
  }

  /**
   * An incoming event with `_meta`; returns the [event, data] pairs to deliver now.
   * @returns {Array<[string, object]>}
   */
  accept(event, data) {
    const { room, offset } = data._meta;
    const held = this.pending.get(room);
    if (held) {
      held.push([event, data]);
      return [];
    }
    if (this.last.has(room) && offset <= this.last.get(room)) return [];
    this.last.set(room, offset);
    return [[event, data]];
  }

  /** The connection is lost: every room with a known offset needs recovery. */
  suspend() {
    for (const room of this.last.keys()) {
      if (!this.pending.has(room)) this.pending.set(room, []);
    }
  }

  isPending(room) {
    return this.pending.has(room);
  }

  /** {room: lastOffset} of the rooms awaiting recovery. */
  pendingOffsets() {
    return Object.fromEntries([...this.pending.keys()].map((room) => [room, this.last.get(room)]));
  }

  /**
   * The server's `recovery` result {recovered, offset} for a room: returns the held events to
   * deliver (in offset order, each once), or null when the room was not awaiting recovery.
   * After `recovered: false` the app reloads over REST, so only events after the server's
   * current offset are delivered, and that offset becomes the room's baseline (it may be
   * lower than ours when the server's log was reset).
   */
  finish(room, result) {
    const held = this.pending.get(room);
    if (!held) return null;
    this.pending.delete(room);
    if (!result.recovered && Number.isInteger(result.offset)) this.last.set(room, result.offset);
    const deliver = [];
    for (const [event, data] of held.sort(byOffset)) {
      const offset = data._meta.offset;
      if (this.last.has(room) && offset <= this.last.get(room)) continue;
      this.last.set(room, offset);
      deliver.push([event, data]);
    }
    return deliver;
  }
}
