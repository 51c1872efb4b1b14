/** The client against a real server: connect, refusal, rooms, subscriptions, ping, telemetry. */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocketClient } from '../src/utils/websocketClient.js';
import {
  collect,
  connected,
  emitToUser,
  newUser,
  startEmitterFor,
  stopEmitter,
  waitFor,
} from './support/helpers.js';

const server = inject('server');
const clients = [];
const track = (client) => (clients.push(client), client);

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});
beforeAll(() => startEmitterFor(server));
afterAll(stopEmitter);

const keystroke = (seq, down) => ({ field: 'text', seq, cls: 'letter', down, up: down + 80 });

describe('connecting', () => {
  it('connects with a token and receives connection_response', async () => {
    const account = await newUser(server);
    const client = track(new WebSocketClient());
    const info = await client.connect(server.url, account.user.id, account.session_id, {
      token: account.access_token,
    });
    expect(info).toMatchObject({ user_id: account.user.id, session_id: account.session_id });
    expect(typeof info.sid).toBe('string');
    expect(info.token_expires_at).toBeGreaterThan(Date.now() / 1000);
    expect(client.connected).toBe(true);
    expect(client.connectionInfo).toEqual(info);
  });

  it('is refused with a bad token and does not retry a token it cannot refresh', async () => {
    const client = track(new WebSocketClient());
    const errors = collect(client, 'connect_error');
    const scheduled = collect(client, 'reconnect_scheduled');
    const failed = waitFor(client, 'connection_failed');
    const attempt = client.connect(server.url, 1, '00000000-0000-0000-0000-000000000000', {
      token: 'not-a-jwt',
    });
    await expect(attempt).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await failed).toEqual({ reason: 'unauthorized' });
    expect(errors).toEqual([{ message: 'unauthorized', unauthorized: true }]);
    expect(scheduled).toEqual([]);
    expect(client.connected).toBe(false);
  });

  it('gives up after maxAuthFailures when the token getter keeps returning refused tokens', async () => {
    const client = track(new WebSocketClient());
    let calls = 0;
    const getToken = async () => ((calls += 1), 'still-not-a-jwt');
    const attempt = client.connect(server.url, 1, '00000000-0000-0000-0000-000000000000', {
      getToken,
      maxAuthFailures: 3,
      baseDelayMs: 10,
      maxDelayMs: 20,
    });
    await expect(attempt).rejects.toMatchObject({ code: 'unauthorized' });
    expect(calls).toBe(3);
  });
});

describe('rooms and subscriptions', () => {
  it('joins its own user room and is refused another user’s', async () => {
    const account = await newUser(server);
    const other = await newUser(server);
    const client = track(await connected(server, account));
    const joined = waitFor(client, 'room_joined');
    const ack = await client.joinUserRoom();
    expect(ack).toEqual({ ok: true, room: `user:${account.user.id}`, offset: 0 });
    expect(await joined).toEqual({ room: `user:${account.user.id}`, offset: 0 });

    const error = waitFor(client, 'error');
    const refused = await client.joinUserRoom(other.user.id);
    expect(refused).toMatchObject({
      ok: false,
      error: { event: 'join_user_room', code: 'forbidden' },
    });
    expect(await error).toMatchObject({ event: 'join_user_room', code: 'forbidden' });
    expect(client.connected).toBe(true);
  });

  it('joins the admin room as an admin only', async () => {
    const user = track(await connected(server, await newUser(server)));
    expect(await user.joinAdminRoom()).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const admin = track(await connected(server, await newUser(server, 'admin')));
    expect(await admin.joinAdminRoom()).toMatchObject({ ok: true, room: 'admin' });
  });

  it('subscribeToRiskScore delivers the current score at once', async () => {
    const account = await newUser(server);
    const client = track(await connected(server, account));
    const update = waitFor(client, 'risk_score_update');
    const ack = await client.subscribeToRiskScore(account.user.id, account.session_id);
    expect(ack).toMatchObject({ ok: true, room: `risk:${account.session_id}` });
    expect(await update).toMatchObject({
      session_id: account.session_id,
      user_id: account.user.id,
      scored: false,
      risk_score: null,
    });
  });

  it('subscribeToNetworkTopology delivers a snapshot of the user’s own graph', async () => {
    const account = await newUser(server);
    const client = track(await connected(server, account));
    const update = waitFor(client, 'network_topology_update');
    expect(await client.subscribeToNetworkTopology()).toMatchObject({ ok: true });
    const snapshot = await update;
    expect(snapshot).toMatchObject({ op: 'snapshot', scope: 'own' });
    expect(Array.isArray(snapshot.nodes)).toBe(true);
    expect(Array.isArray(snapshot.edges)).toBe(true);
  });

  it('delivers events another process emits to its user room, live', async () => {
    const account = await newUser(server);
    const client = track(await connected(server, account));
    await client.joinUserRoom();
    const seen = collect(client, 'notification');
    const last = waitFor(client, 'notification', (d) => d.seq === 2, 3000);
    expect(await emitToUser(server, account.user.id, 'notification', 3)).toEqual([1, 2, 3]);
    await last;
    const room = `user:${account.user.id}`;
    expect(seen.map((d) => d._meta)).toEqual([1, 2, 3].map((offset) => ({ room, offset })));
  });
});

describe('ping and telemetry', () => {
  it('ping resolves to the round-trip time and the server answers pong', async () => {
    const client = track(await connected(server, await newUser(server)));
    const pong = waitFor(client, 'pong');
    const rtt = await client.ping();
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(rtt).toBeLessThan(5000);
    const reply = await pong;
    expect(typeof reply.client_ts).toBe('number');
    expect(typeof reply.server_ts).toBe('number');
  });

  it('sendBehavioralData adds the session id and gets the accepted counts', async () => {
    const client = track(await connected(server, await newUser(server)));
    const ack = await client.sendBehavioralData({
      keystrokes: [keystroke(0, 1000), keystroke(1, 1200)],
      mouseMovements: [
        { x: 10, y: 20, t: 1000 },
        { x: 12, y: 25, t: 1016 },
      ],
      clicks: [{ x: 12, y: 25, button: 0, down: 1100, up: 1180 }],
    });
    expect(ack).toEqual({ ok: true, accepted: { keystrokes: 2, mouseMovements: 2, clicks: 1 } });
  });

  it('never sends typed characters, even when the app puts them on the items', async () => {
    const client = track(await connected(server, await newUser(server)));
    const sent = [];
    client.socket.onAnyOutgoing((event, data) => sent.push([event, data]));
    const ack = await client.sendBehavioralData({
      keystrokes: [{ ...keystroke(0, 500), key: 's', value: 'secret' }],
    });
    expect(ack.ok).toBe(true);
    expect(sent).toHaveLength(1);
    expect(JSON.stringify(sent[0][1])).not.toMatch(/secret|"key"/);
  });

  it('a refused batch comes back as an error ack and an error event', async () => {
    const client = track(await connected(server, await newUser(server)));
    const error = waitFor(client, 'error');
    const ack = await client.sendBehavioralData({
      keystrokes: [{ ...keystroke(0, 900), up: 100 }],
    });
    expect(ack).toMatchObject({
      ok: false,
      error: { event: 'behavioral_data', code: 'invalid_payload' },
    });
    expect(await error).toMatchObject({ code: 'invalid_payload' });
    expect(await client.sendBehavioralData({})).toMatchObject({
      ok: false,
      error: { code: 'invalid_payload' },
    });
  });
});
