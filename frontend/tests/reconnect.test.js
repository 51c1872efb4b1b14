/**
 * A real reconnect: the transport dies, the client comes back with backoff, restores its rooms
 * and subscriptions, recovers what it missed, and sends the telemetry it buffered meanwhile.
 * Reconnection is held back by the token getter (called for every connect) while the test emits
 * events server-side, so "offline" lasts exactly as long as the test needs.
 */
import { io } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  collect,
  connected,
  emitToUser,
  gate,
  newUser,
  startEmitterFor,
  stopEmitter,
  waitFor,
} from './support/helpers.js';

const server = inject('server');
const clients = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});
beforeAll(() => startEmitterFor(server));
afterAll(stopEmitter);

/** A connected client whose reconnects wait for `offline.open()`; records what it sends. */
async function heldClient(account, options = {}) {
  const state = { hold: null, sent: [] };
  const getToken = async () => {
    if (state.hold) await state.hold.promise;
    return account.access_token;
  };
  const recordingIo = (url, opts) => {
    const socket = io(url, opts);
    socket.onAnyOutgoing((event, data) => state.sent.push([event, data]));
    return socket;
  };
  const client = await connected(server, account, {
    getToken,
    io: recordingIo,
    baseDelayMs: 50,
    maxDelayMs: 200,
    ...options,
  });
  clients.push(client);
  /** Kill the transport; resolves once the client knows it is offline. */
  state.goOffline = async () => {
    state.hold = gate();
    const lost = waitFor(client, 'disconnect');
    client.socket.io.engine.close();
    return lost;
  };
  /** Let the client reconnect; resolves with the `reconnect` event. */
  state.comeBack = () => {
    const back = waitFor(client, 'reconnect', () => true, 15000);
    state.hold.open();
    state.hold = null;
    return back;
  };
  return { client, state };
}

describe('reconnecting', () => {
  it('rejoins rooms, resubscribes and recovers missed events in order, each once', async () => {
    const account = await newUser(server);
    const room = `user:${account.user.id}`;
    const sessionRoom = `session:${account.session_id}`;
    const { client, state } = await heldClient(account);
    await client.joinUserRoom();
    await client.subscribeToRiskScore();
    await client.subscribeToNetworkTopology();
    const firstSid = client.connectionInfo.sid;

    expect(await state.goOffline()).toMatchObject({ reason: 'forced close' });
    expect(client.connected).toBe(false);
    expect(await emitToUser(server, account.user.id, 'notification', 5)).toEqual([1, 2, 3, 4, 5]);

    const notifications = collect(client, 'notification');
    const rejoined = waitFor(client, 'room_joined', (d) => d.room === room);
    const risk = waitFor(client, 'risk_score_update');
    const topology = waitFor(client, 'network_topology_update', (d) => d.op === 'snapshot');
    const recovery = waitFor(client, 'recovery', (d) => d.room === room);
    const sessionRecovery = waitFor(client, 'recovery', (d) => d.room === sessionRoom);
    state.sent.length = 0;
    await state.comeBack();

    expect(await rejoined).toEqual({ room, offset: 5 });
    expect(await risk).toMatchObject({ session_id: account.session_id });
    expect(await topology).toMatchObject({ op: 'snapshot', scope: 'own' });
    expect(await recovery).toEqual({ room, recovered: true, replayed: 5, offset: 5, reason: null });
    // The session room, joined at connect, is recovered from connection_response's baseline.
    expect(await sessionRecovery).toMatchObject({
      room: sessionRoom,
      recovered: true,
      replayed: 0,
    });
    expect(notifications.map((d) => [d.seq, d._meta.offset])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
      [3, 4],
      [4, 5],
    ]);
    expect(client.connectionInfo.sid).not.toBe(firstSid);
    expect(state.sent.map(([event]) => event)).toEqual([
      'join_user_room',
      'subscribe_risk_score',
      'subscribe_network_topology',
      'recover',
    ]);
    expect(state.sent[3][1]).toEqual({ offsets: { [room]: 0, [sessionRoom]: 0 } });

    // The server replays the same events again: the client drops them as duplicates.
    const again = waitFor(client, 'recovery', (d) => d.room === room);
    client.socket.emit('recover', { offsets: { [room]: 0 } });
    expect(await again).toMatchObject({ room, recovered: true, replayed: 5 });
    expect(notifications).toHaveLength(5);
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
  });

  it('reports recovery_failed past the recovery window, then recovers from the new baseline', async () => {
    const account = await newUser(server);
    const room = `user:${account.user.id}`;
    const { client, state } = await heldClient(account);
    await client.joinUserRoom();

    await state.goOffline();
    await emitToUser(server, account.user.id, 'notification', 25); // the log keeps 20
    const notifications = collect(client, 'notification');
    const failed = waitFor(client, 'recovery_failed');
    await state.comeBack();
    expect(await failed).toEqual({ room, reason: 'out_of_window', offset: 25 });
    expect(notifications).toEqual([]); // the app reloads that state over REST instead

    await state.goOffline();
    await emitToUser(server, account.user.id, 'notification', 2);
    const recovered = waitFor(client, 'recovery', (d) => d.room === room);
    await state.comeBack();
    expect(await recovered).toMatchObject({ room, recovered: true, replayed: 2, offset: 27 });
    expect(notifications.map((d) => d._meta.offset)).toEqual([26, 27]);
  });

  it('buffers behavioural data while offline (bounded) and sends it after reconnecting', async () => {
    const account = await newUser(server);
    const { client, state } = await heldClient(account, { maxBufferedBatches: 2 });
    const batch = (t) => ({ mouseMovements: [{ x: 1, y: 2, t }], clicks: [] });

    await state.goOffline();
    const dropped = waitFor(client, 'behavioral_data_dropped');
    expect(await client.sendBehavioralData(batch(100))).toEqual({ ok: true, buffered: true });
    await client.sendBehavioralData(batch(200));
    await client.sendBehavioralData(batch(300));
    expect(await dropped).toEqual({ dropped: 1 });
    expect(client.bufferedBatches).toBe(2);
    expect(client.droppedBatches).toBe(1);

    const flushed = waitFor(client, 'behavioral_data_flushed');
    state.sent.length = 0;
    await state.comeBack();
    expect(await flushed).toEqual({ sent: 2, failed: 0, remaining: 0 });
    const batches = state.sent.filter(([event]) => event === 'behavioral_data').map(([, d]) => d);
    expect(batches.map((d) => d.mouseMovements[0].t)).toEqual([200, 300]);
    expect(batches.every((d) => d.session_id === account.session_id)).toBe(true);
    expect(client.bufferedBatches).toBe(0);
    // Online again: sent directly, acknowledged by the server.
    expect(await client.sendBehavioralData(batch(400))).toMatchObject({
      ok: true,
      accepted: { mouseMovements: 1 },
    });
  });
});
