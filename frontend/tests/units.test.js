/**
 * Unit level (no server): backoff timings with an injected random source and fake timers,
 * the recovery tracker, and the telemetry reduction. A fake socket stands in for
 * socket.io-client so that every connection attempt is visible and instant.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from '../src/utils/backoff.js';
import { RecoveryTracker } from '../src/utils/recoveryTracker.js';
import { cleanBatch, keyClass } from '../src/utils/telemetry.js';
import { WebSocketClient } from '../src/utils/websocketClient.js';

class FakeSocket {
  constructor(url, options, acks) {
    Object.assign(this, { url, options, acks, connected: false, sent: [] });
    this.handlers = new Map();
    this.any = [];
  }
  on(event, callback) {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), callback]);
    return this;
  }
  onAny(callback) {
    this.any.push(callback);
  }
  offAny() {
    this.any = [];
  }
  removeAllListeners() {
    this.handlers.clear();
  }
  disconnect() {
    this.connected = false;
  }
  timeout() {
    return this;
  }
  emitWithAck(event, payload) {
    this.sent.push([event, payload]);
    return Promise.resolve(this.acks(event, payload));
  }
  fire(event, ...args) {
    for (const callback of this.handlers.get(event) ?? []) callback(...args);
  }
  serverSends(event, data) {
    for (const callback of [...this.any]) callback(event, data);
  }
  open() {
    this.connected = true;
    this.fire('connect');
  }
  lose(reason = 'transport close') {
    this.connected = false;
    this.fire('disconnect', reason);
  }
}

/** A client on fake sockets; `sockets` lists every connection attempt. */
function fakeClient(options = {}, acks = () => ({ ok: true })) {
  const sockets = [];
  const client = new WebSocketClient();
  const io = (url, opts) => {
    const socket = new FakeSocket(url, opts, acks);
    sockets.push(socket);
    return socket;
  };
  const start = () =>
    client.connect('http://test.invalid', 7, 'c0ffee00-0000-4000-8000-000000000000', {
      token: 'jwt',
      io,
      ...options,
    });
  return { client, sockets, start };
}

describe('backoffDelay', () => {
  it('is min(cap, base·2^n)·random', () => {
    const opts = (r) => ({ baseDelayMs: 1000, maxDelayMs: 30000, random: () => r });
    expect(backoffDelay(0, opts(0.5))).toBe(500);
    expect(backoffDelay(1, opts(0.5))).toBe(1000);
    expect(backoffDelay(4, opts(1))).toBe(16000);
    expect(backoffDelay(5, opts(1))).toBe(30000);
    expect(backoffDelay(60, opts(0.25))).toBe(7500);
    expect(backoffDelay(2000, opts(0.999))).toBeCloseTo(29970);
    expect(backoffDelay(3, { random: () => 0.5 })).toBe(4000); // defaults: 1 s, 30 s
  });
});

describe('reconnection schedule', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits min(cap, base·2^n)·random between attempts and restarts at base after a success', async () => {
    const randoms = [0.5, 0.9, 0.1, 0.75, 0.3, 0.6, 0.99, 0.2];
    const { client, sockets, start } = fakeClient({ random: () => randoms.shift() });
    const scheduled = [];
    client.on('reconnect_scheduled', (d) => scheduled.push(d));
    start();
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets).toHaveLength(1);

    const expected = [500, 1800, 400, 6000, 4800, 18000, 29700];
    for (const [n, delay] of expected.entries()) {
      sockets.at(-1).fire('connect_error', new Error('xhr poll error'));
      expect(scheduled.at(-1)).toEqual({ attempt: n + 1, delay });
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(sockets).toHaveLength(n + 1); // not a millisecond early
      await vi.advanceTimersByTimeAsync(1);
      expect(sockets).toHaveLength(n + 2);
    }
    const reconnects = [];
    client.on('reconnect', (d) => reconnects.push(d));
    sockets.at(-1).open();
    expect(reconnects).toEqual([]); // the first connection is not a reconnect
    sockets.at(-1).lose();
    expect(scheduled.at(-1)).toEqual({ attempt: 1, delay: 200 }); // reset: base · 0.2
    await vi.advanceTimersByTimeAsync(200);
    sockets.at(-1).open();
    expect(reconnects).toEqual([{ attempts: 1 }]);
    client.disconnect();
  });

  it('uses socket.io-client without its own reconnection, and the token as auth', async () => {
    const { sockets, start, client } = fakeClient();
    start();
    await vi.advanceTimersByTimeAsync(0);
    expect(sockets[0].options).toMatchObject({
      reconnection: false,
      forceNew: true,
      auth: { token: 'jwt' },
    });
    client.disconnect();
  });

  it('disconnect() cancels a scheduled reconnect', async () => {
    const { client, sockets, start } = fakeClient({ random: () => 0.5 });
    start().catch(() => {});
    await vi.advanceTimersByTimeAsync(0);
    sockets[0].fire('connect_error', new Error('timeout'));
    client.disconnect();
    await vi.advanceTimersByTimeAsync(60000);
    expect(sockets).toHaveLength(1);
  });

  it('does not reconnect after session_terminated', async () => {
    const { client, sockets, start } = fakeClient();
    const failed = [];
    client.on('connection_failed', (d) => failed.push(d));
    start();
    await vi.advanceTimersByTimeAsync(0);
    sockets[0].open();
    sockets[0].serverSends('session_terminated', { reason: 'logout' });
    sockets[0].lose('io server disconnect');
    await vi.advanceTimersByTimeAsync(60000);
    expect(sockets).toHaveLength(1);
    expect(failed).toEqual([{ reason: 'session_terminated' }]);
  });
});

describe('recovery on the client', () => {
  it('holds live events back until `recovery`, then delivers replayed and live in order, once', async () => {
    vi.useFakeTimers();
    const room = 'user:7';
    let answerRecover;
    const recoverAck = new Promise((resolve) => (answerRecover = resolve));
    const acks = (event) => {
      if (event === 'recover') return recoverAck; // the server acks after replaying
      return event === 'join_user_room' ? { ok: true, room, offset: 2 } : { ok: true };
    };
    const { client, sockets, start } = fakeClient({ random: () => 0 }, acks);
    const seen = [];
    client.on('alert', (d) => seen.push(d._meta.offset));
    start();
    await vi.advanceTimersByTimeAsync(0);
    sockets[0].open();
    await client.joinUserRoom();
    sockets[0].serverSends('room_joined', { room, offset: 2 });
    sockets[0].serverSends('alert', { _meta: { room, offset: 3 } });
    sockets[0].serverSends('alert', { _meta: { room, offset: 3 } }); // duplicate
    sockets[0].lose();
    await vi.advanceTimersByTimeAsync(0);
    const next = sockets[1];
    next.open();
    next.serverSends('alert', { _meta: { room, offset: 6 } }); // live, before the replay
    await vi.advanceTimersByTimeAsync(0);
    expect(next.sent.map(([event]) => event)).toEqual(['join_user_room', 'recover']);
    expect(next.sent[1][1]).toEqual({ offsets: { [room]: 3 } });
    expect(seen).toEqual([3]);
    for (const offset of [4, 5, 6]) next.serverSends('alert', { _meta: { room, offset } });
    const result = { room, recovered: true, replayed: 3, offset: 6, reason: null };
    next.serverSends('recovery', result);
    answerRecover({ ok: true, rooms: { [room]: result } });
    await vi.advanceTimersByTimeAsync(0);
    next.serverSends('alert', { _meta: { room, offset: 7 } });
    expect(seen).toEqual([3, 4, 5, 6, 7]);
    client.disconnect();
    vi.useRealTimers();
  });
});

describe('RecoveryTracker', () => {
  const ev = (room, offset) => ['e', { _meta: { room, offset } }];
  const offsets = (list) => list.map(([, d]) => d._meta.offset);

  it('delivers in order and drops what it has seen', () => {
    const t = new RecoveryTracker();
    t.baseline('admin', 4);
    expect(t.accept(...ev('admin', 4))).toEqual([]);
    expect(offsets(t.accept(...ev('admin', 5)))).toEqual([5]);
    t.baseline('admin', 0); // a later room_joined does not move a known offset back
    expect(t.accept(...ev('admin', 5))).toEqual([]);
  });

  it('after a failed recovery, takes the server’s offset as the new baseline, even a lower one', () => {
    const t = new RecoveryTracker();
    t.baseline('user:1', 50);
    t.suspend();
    expect(t.pendingOffsets()).toEqual({ 'user:1': 50 });
    t.accept(...ev('user:1', 2));
    t.accept(...ev('user:1', 4));
    const result = { recovered: false, offset: 3, reason: 'unknown_offset' };
    expect(offsets(t.finish('user:1', result))).toEqual([4]);
    expect(t.finish('user:1', result)).toBeNull();
    expect(offsets(t.accept(...ev('user:1', 5)))).toEqual([5]);
  });
});

describe('telemetry', () => {
  it('keeps only timing and position fields', () => {
    const batch = cleanBatch({
      keystrokes: [
        { field: 'password', seq: 0, cls: 'letter', down: 1, up: 2, key: 'p', code: 'KeyP' },
      ],
      mouseMovements: [{ x: 1, y: 2, t: 3, target: '#secret' }],
      clicks: [{ x: 1, y: 2, button: 0, down: 4, up: 5, text: 'Pay' }],
    });
    expect(batch).toEqual({
      keystrokes: [{ field: 'password', seq: 0, cls: 'letter', down: 1, up: 2 }],
      mouseMovements: [{ x: 1, y: 2, t: 3 }],
      clicks: [{ x: 1, y: 2, button: 0, down: 4, up: 5 }],
    });
    expect(() => cleanBatch({ clicks: 'x' })).toThrow(TypeError);
  });

  it('classes keys without keeping them', () => {
    const cases = {
      a: 'letter',
      Z: 'letter',
      é: 'letter',
      7: 'digit',
      ' ': 'space',
      Enter: 'enter',
    };
    Object.assign(cases, {
      Backspace: 'backspace',
      Shift: 'shift',
      '!': 'punct',
      '+': 'punct',
      Tab: 'other',
    });
    for (const [key, cls] of Object.entries(cases)) expect(keyClass(key)).toBe(cls);
  });
});
