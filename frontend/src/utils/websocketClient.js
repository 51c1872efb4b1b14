/**
 * Browser client of the platform's real-time API (ARCHITECTURE section 4) on socket.io-client 4.
 *
 *   import websocketClient from './utils/websocketClient.js';
 *   await websocketClient.connect(url, userId, sessionId, { getToken });
 *   websocketClient.subscribeToRiskScore(userId, sessionId);
 *   websocketClient.on('risk_score_update', (data) => render(data));
 *   websocketClient.sendBehavioralData({ keystrokes, mouseMovements, clicks });
 *
 * Reconnection is this module's own (socket.io-client's is off): exponential backoff with full
 * jitter, then rooms and subscriptions are restored, missed events of user/session/admin rooms
 * recovered by offset, and telemetry buffered while offline is sent.
 *
 * Local events besides the server's (payloads in frontend/README.md): connect, disconnect,
 * connect_error, reconnect_scheduled, reconnect_attempt, reconnect, connection_failed,
 * recovery_failed, token_refreshed, token_refresh_failed, tokens, behavioral_data_dropped,
 * behavioral_data_flushed.
 */
import { io as socketIo } from 'socket.io-client';
import { backoffDelay, DEFAULT_BASE_DELAY_MS, DEFAULT_MAX_DELAY_MS } from './backoff.js';
import { OfflineBuffer } from './offlineBuffer.js';
import { RecoveryTracker } from './recoveryTracker.js';
import { cleanBatch } from './telemetry.js';
import { RestTokenRefresher } from './tokenRefresh.js';

export { backoffDelay } from './backoff.js';
export { keyClass, KEY_CLASSES } from './telemetry.js';

const CLIENT_DISCONNECT = 'io client disconnect';
const PERMANENT_REFUSALS = new Set(['forbidden', 'invalid_payload', 'not_found']);
const MAX_ROOMS_PER_RECOVER = 16;
const DEFAULTS = {
  baseDelayMs: DEFAULT_BASE_DELAY_MS,
  maxDelayMs: DEFAULT_MAX_DELAY_MS,
  random: Math.random,
  maxBufferedBatches: 100,
  ackTimeoutMs: 10000,
  connectTimeoutMs: 10000,
  maxAuthFailures: 3,
  flushRetryMs: 1000,
  io: socketIo,
};
const now = () => globalThis.performance?.now() ?? Date.now();
const refusal = (event, code, message) => ({ ok: false, error: { event, code, message } });

export class WebSocketClient {
  constructor() {
    this._listeners = new Map();
    this._subscriptions = new Map();
    this._tracker = new RecoveryTracker();
    this._telemetry = new OfflineBuffer(DEFAULTS.maxBufferedBatches);
    this._generation = 0;
    this._stopped = true;
    this._opts = DEFAULTS;
    /** @type {import('socket.io-client').Socket | null} the current socket, null while offline */
    this.socket = null;
    /** The last `connection_response` {sid, user_id, session_id, server_time, token_expires_at,
     *  session_room, session_offset}. */
    this.connectionInfo = null;
  }

  /**
   * Connect (and keep reconnecting) to the server at `url` as the owner of the token.
   *
   * @param {string} url server origin, e.g. "https://zt.example.com"
   * @param {number} userId the signed-in user's id
   * @param {string} sessionId the login session's id (from POST /api/auth/login)
   * @param {object} options `token` (access token) and/or `getToken` (async () => token, used for
   *   every (re)connect and on `token_expiring`) and/or `refreshToken` (+ optional `refreshUrl`,
   *   default <url>/api/auth/refresh) for refreshing over REST; tuning: `baseDelayMs` (1000),
   *   `maxDelayMs` (30000), `random`, `maxBufferedBatches` (100), `ackTimeoutMs`,
   *   `connectTimeoutMs`, `maxAuthFailures`, `transports`, `io` (socket.io-client's io)
   * @returns {Promise<object>} the first `connection_response`; rejects only when the client
   *   gives up (refused token that cannot be refreshed) or `disconnect()` is called first
   * @throws {TypeError} when the options hold no way to get a token
   */
  connect(url, userId, sessionId, options = {}) {
    if (!options.token && !options.getToken && !options.refreshToken) {
      throw new TypeError(
        'connect() needs options.token, options.getToken or options.refreshToken',
      );
    }
    this.disconnect();
    Object.assign(this, { url, userId, sessionId, connectionInfo: null });
    this._opts = { ...DEFAULTS, ...options };
    this._telemetry = new OfflineBuffer(this._opts.maxBufferedBatches);
    this._token = options.token ?? null;
    this._refresher = null;
    if (options.refreshToken) {
      const refreshUrl = options.refreshUrl ?? new URL('/api/auth/refresh', url).href;
      this._refresher = new RestTokenRefresher(refreshUrl, options.refreshToken, (tokens) => {
        this._token = tokens.access_token;
        this._emitLocal('tokens', tokens);
      });
    }
    Object.assign(this, { _stopped: false, _terminated: false, _everConnected: false });
    Object.assign(this, { _attempt: 0, _authFailures: 0, _forceRefresh: false });
    this._tokenExpiresAt = undefined;
    let settle;
    const ready = new Promise((resolve, reject) => (settle = { resolve, reject }));
    ready.catch(() => {}); // callers may ignore the promise; failures also arrive as events
    this._ready = { ...settle, done: false };
    this._open();
    return ready;
  }

  /**
   * Stop: close the socket, cancel reconnection, forget rooms, offsets and buffered telemetry.
   * Listeners registered with on() stay.
   */
  disconnect() {
    this._stopped = true;
    this._generation += 1;
    clearTimeout(this._timer);
    this._timer = null;
    const wasConnected = this.connected;
    this._dropSocket();
    for (const sub of this._subscriptions.values()) {
      this._settle(sub, refusal(sub.event, 'disconnected', 'disconnect() was called'));
    }
    this._subscriptions.clear();
    this._tracker = new RecoveryTracker();
    this._telemetry = new OfflineBuffer(this._opts.maxBufferedBatches);
    this._settleReady(new Error('disconnect() was called'));
    if (wasConnected) this._emitLocal('disconnect', { reason: CLIENT_DISCONNECT });
  }

  /** Whether the socket is connected now. */
  get connected() {
    return this.socket?.connected === true;
  }

  /** Telemetry batches waiting for a connection. */
  get bufferedBatches() {
    return this._telemetry.length;
  }

  /** Telemetry batches dropped because the offline buffer was full. */
  get droppedBatches() {
    return this._telemetry.dropped;
  }

  /**
   * Listen to a server event (e.g. `risk_score_update`) or a local one (see the module doc).
   * @param {string} event
   * @param {(data: any) => void} callback
   * @returns {() => void} a function that removes the listener
   */
  on(event, callback) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(callback);
    return () => this.off(event, callback);
  }

  /**
   * Remove a listener, or every listener of `event` when `callback` is omitted.
   * @param {string} event
   * @param {(data: any) => void} [callback]
   */
  off(event, callback) {
    if (callback === undefined) this._listeners.delete(event);
    else this._listeners.get(event)?.delete(callback);
  }

  /**
   * Join the room `user:<id>` (your own; admins any). Restored after every reconnect.
   * @param {number} [userId] default: the connected user
   * @returns {Promise<object>} the server's ack ({ok, room, offset} or {ok: false, error}),
   *   once connected
   */
  joinUserRoom(userId = this.userId) {
    return this._subscribe(`user:${userId}`, 'join_user_room', { user_id: userId });
  }

  /**
   * Join the `admin` room (administrators only). Restored after every reconnect.
   * @returns {Promise<object>} the server's ack
   */
  joinAdminRoom() {
    return this._subscribe('admin', 'join_admin_room', {});
  }

  /**
   * Receive `risk_score_update` for a session; the current score arrives at once (and again
   * after each reconnect).
   * @param {number} [userId] default: the connected user
   * @param {string} [sessionId] default: the connected session
   * @returns {Promise<object>} the server's ack
   */
  subscribeToRiskScore(userId = this.userId, sessionId = this.sessionId) {
    const payload = { user_id: userId, session_id: sessionId };
    return this._subscribe(`risk:${sessionId}`, 'subscribe_risk_score', payload);
  }

  /**
   * Receive `network_topology_update`: a snapshot ({op: 'snapshot', nodes, edges}) at once and
   * after each reconnect, then changes (admins: the whole graph; users: their own).
   * @returns {Promise<object>} the server's ack
   */
  subscribeToNetworkTopology() {
    return this._subscribe('topology', 'subscribe_network_topology', {});
  }

  /**
   * Send one batch of behavioural telemetry (timings and positions only; see telemetry.js) for
   * the connected session. While offline the batch is buffered (the oldest dropped beyond
   * `maxBufferedBatches`) and sent after reconnecting.
   * @param {{keystrokes?: object[], mouseMovements?: object[], clicks?: object[]}} batch
   * @returns {Promise<object>} the ack {ok, accepted} or {ok: false, error}; {ok: true,
   *   buffered: true} when buffered
   */
  sendBehavioralData(batch = {}) {
    const data = { session_id: this.sessionId, ...cleanBatch(batch) };
    if (!data.keystrokes.length && !data.mouseMovements.length && !data.clicks.length) {
      return Promise.resolve(refusal('behavioral_data', 'invalid_payload', 'the batch is empty'));
    }
    if (this.connected && !this._telemetry.length && !this._telemetry.flushing) {
      return this._ack(this.socket, 'behavioral_data', data);
    }
    if (this._telemetry.push(data)) {
      this._emitLocal('behavioral_data_dropped', { dropped: this._telemetry.dropped });
    }
    if (this.connected) this._flushBehavior(this.socket);
    return Promise.resolve({ ok: true, buffered: true });
  }

  /**
   * Measure the round trip of a `ping` to the server.
   * @returns {Promise<number>} milliseconds; rejects when offline or refused
   */
  async ping() {
    if (!this.connected) throw new Error('not connected');
    const started = now();
    const ack = await this._ack(this.socket, 'ping', { client_ts: Date.now() });
    if (!ack.ok) throw Object.assign(new Error(ack.error.message), { code: ack.error.code });
    return now() - started;
  }

  /**
   * Hand the server a fresh access token for this connection (done automatically on
   * `token_expiring` when a getter or refresh token was given).
   * @param {string} token
   * @returns {Promise<object>} the ack {ok, expires_at} or {ok: false, error}
   */
  async updateToken(token) {
    if (!this.connected) return refusal('update_token', 'disconnected', 'not connected');
    const ack = await this._ack(this.socket, 'update_token', { token });
    if (ack.ok) Object.assign(this, { _token: token, _tokenExpiresAt: ack.expires_at });
    return ack;
  }

  // ----- connection lifecycle -----

  async _open() {
    const generation = this._generation;
    let token;
    try {
      token = await this._tokenForConnect();
      if (!token) throw new Error('no access token');
    } catch (err) {
      if (generation !== this._generation) return;
      this._emitLocal('connect_error', { message: `token: ${err.message}`, unauthorized: false });
      this._scheduleReconnect();
      return;
    }
    if (generation !== this._generation) return;
    const { io, connectTimeoutMs, transports } = this._opts;
    const options = { forceNew: true, reconnection: false, timeout: connectTimeoutMs };
    const socket = io(this.url, { ...options, auth: { token }, ...(transports && { transports }) });
    this.socket = socket;
    socket.on('connect', () => socket === this.socket && this._onConnect(socket));
    socket.on('connect_error', (err) => socket === this.socket && this._onConnectError(err));
    socket.on('disconnect', (reason) => socket === this.socket && this._onDisconnect(reason));
    socket.onAny((event, data) => socket === this.socket && this._onServerEvent(event, data));
  }

  async _tokenForConnect() {
    if (this._opts.getToken) return (this._token = await this._opts.getToken());
    const stale = this._tokenExpiresAt && Date.now() / 1000 > this._tokenExpiresAt - 5;
    if (this._refresher && (this._forceRefresh || stale || !this._token)) {
      this._forceRefresh = false;
      return this._refresher.refresh();
    }
    return this._token;
  }

  _scheduleReconnect() {
    if (this._stopped || this._timer) return;
    const delay = backoffDelay(this._attempt, this._opts);
    const attempt = (this._attempt += 1);
    this._emitLocal('reconnect_scheduled', { attempt, delay });
    this._timer = setTimeout(() => {
      this._timer = null;
      this._emitLocal('reconnect_attempt', { attempt });
      this._open();
    }, delay);
  }

  _onConnect(socket) {
    const reconnected = this._everConnected;
    const attempts = this._attempt;
    Object.assign(this, { _everConnected: true, _attempt: 0, _authFailures: 0 });
    this._emitLocal('connect', { reconnected });
    if (reconnected) this._emitLocal('reconnect', { attempts });
    this._restore(socket);
  }

  _onConnectError(err) {
    this._dropSocket();
    const unauthorized = err?.message === 'unauthorized';
    this._emitLocal('connect_error', { message: err?.message, unauthorized });
    if (unauthorized) {
      this._authFailures += 1;
      const refreshable = Boolean(this._opts.getToken || this._refresher);
      if (!refreshable || this._authFailures >= this._opts.maxAuthFailures) {
        this._giveUp('unauthorized');
        return;
      }
      this._forceRefresh = true;
    }
    this._scheduleReconnect();
  }

  _onDisconnect(reason) {
    this._dropSocket();
    this._tracker.suspend();
    this._emitLocal('disconnect', { reason });
    if (this._stopped || reason === CLIENT_DISCONNECT) return;
    if (this._terminated) this._giveUp('session_terminated');
    else this._scheduleReconnect();
  }

  _giveUp(reason) {
    this._stopped = true;
    this._emitLocal('connection_failed', { reason });
    this._settleReady(Object.assign(new Error(`connection refused: ${reason}`), { code: reason }));
  }

  _dropSocket() {
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    socket.offAny();
    socket.removeAllListeners();
    socket.disconnect();
  }

  _settleReady(error, value) {
    if (!this._ready || this._ready.done) return;
    this._ready.done = true;
    if (error) this._ready.reject(error);
    else this._ready.resolve(value);
  }

  // ----- server events, recovery, token refresh -----

  _onServerEvent(event, data) {
    if (event === 'connection_response') {
      this.connectionInfo = data;
      this._tokenExpiresAt = data?.token_expires_at;
      // The server joins the session room at connect; its offset is the recovery baseline.
      if (typeof data?.session_room === 'string' && Number.isInteger(data?.session_offset))
        this._tracker.baseline(data.session_room, data.session_offset);
      this._settleReady(null, data);
    } else if (event === 'room_joined' && Number.isInteger(data?.offset)) {
      this._tracker.baseline(data.room, data.offset);
    } else if (event === 'recovery') {
      this._finishRecovery(data);
    } else if (event === 'token_expiring') {
      this._onTokenExpiring();
    } else if (event === 'session_terminated') {
      this._terminated = true;
    }
    const meta = data?._meta;
    if (meta && typeof meta.room === 'string' && Number.isInteger(meta.offset)) {
      for (const [name, payload] of this._tracker.accept(event, data))
        this._emitLocal(name, payload);
    } else {
      this._emitLocal(event, data);
    }
  }

  async _restore(socket) {
    const sessionId = this.connectionInfo?.session_id ?? this.sessionId;
    const joined = new Set([`session:${sessionId}`]); // the server joins it at connect
    for (const sub of [...this._subscriptions.values()]) {
      const ack = await this._sendSubscription(socket, sub);
      if (socket !== this.socket) return;
      if (ack.ok && ack.room) joined.add(ack.room);
    }
    await this._recover(socket, joined);
    if (socket === this.socket) await this._flushBehavior(socket);
  }

  async _recover(socket, joined) {
    const offsets = Object.entries(this._tracker.pendingOffsets());
    const wanted = offsets.filter(([room]) => joined.has(room));
    for (const [room] of offsets.filter(([name]) => !joined.has(name))) {
      this._finishRecovery({ room, recovered: false, reason: 'not_rejoined' });
    }
    for (let i = 0; i < wanted.length; i += MAX_ROOMS_PER_RECOVER) {
      const chunk = Object.fromEntries(wanted.slice(i, i + MAX_ROOMS_PER_RECOVER));
      const ack = await this._ack(socket, 'recover', { offsets: chunk });
      if (socket !== this.socket) return; // lost again: the rooms stay pending
      for (const room of Object.keys(chunk)) {
        if (!this._tracker.isPending(room)) continue; // its `recovery` event came first
        const reason = ack.ok ? 'no_result' : ack.error.code;
        this._finishRecovery(ack.rooms?.[room] ?? { room, recovered: false, reason });
      }
    }
  }

  _finishRecovery(result) {
    const deliver = result?.room ? this._tracker.finish(result.room, result) : null;
    if (deliver === null) return;
    for (const [event, data] of deliver) this._emitLocal(event, data);
    if (!result.recovered) {
      const { room, reason, offset } = result;
      this._emitLocal('recovery_failed', { room, reason: reason ?? 'unknown', offset });
    }
  }

  async _onTokenExpiring() {
    if (!this._opts.getToken && !this._refresher) return; // the app may call updateToken()
    try {
      const token = this._opts.getToken
        ? await this._opts.getToken()
        : await this._refresher.refresh();
      const ack = await this.updateToken(token);
      if (!ack.ok) throw new Error(`update_token refused: ${ack.error.message}`);
      this._emitLocal('token_refreshed', { expires_at: ack.expires_at });
    } catch (err) {
      this._emitLocal('token_refresh_failed', { message: err.message });
    }
  }

  // ----- subscriptions, telemetry, acks -----

  _subscribe(key, event, payload) {
    let sub = this._subscriptions.get(key);
    if (!sub) this._subscriptions.set(key, (sub = { key, event, payload, waiters: [] }));
    return new Promise((resolve) => {
      sub.waiters.push(resolve);
      if (this.connected) this._sendSubscription(this.socket, sub);
    });
  }

  async _sendSubscription(socket, sub) {
    const ack = await this._ack(socket, sub.event, sub.payload);
    if (!ack.ok && PERMANENT_REFUSALS.has(ack.error.code)) this._subscriptions.delete(sub.key);
    if (ack.ok || socket === this.socket) this._settle(sub, ack); // else: retried on reconnect
    return ack;
  }

  _settle(sub, ack) {
    for (const resolve of sub.waiters.splice(0)) resolve(ack);
  }

  async _flushBehavior(socket) {
    if (!this._telemetry.length) return;
    const send = (batch) => this._ack(socket, 'behavioral_data', batch);
    const isFinal = (ack) => PERMANENT_REFUSALS.has(ack.error.code);
    const options = { isFinal, retryMs: this._opts.flushRetryMs };
    const result = await this._telemetry.flush(send, () => socket === this.socket, options);
    if (result) this._emitLocal('behavioral_data_flushed', result);
  }

  async _ack(socket, event, payload) {
    try {
      return await socket.timeout(this._opts.ackTimeoutMs).emitWithAck(event, payload);
    } catch (err) {
      const code = /disconnected/.test(err?.message) ? 'disconnected' : 'timeout';
      return refusal(event, code, err?.message ?? 'no acknowledgement');
    }
  }

  _emitLocal(event, data) {
    for (const callback of [...(this._listeners.get(event) ?? [])]) {
      try {
        callback(data);
      } catch (err) {
        console.error(`websocketClient: a '${event}' listener failed`, err);
      }
    }
  }
}

/** The application's one client. */
const websocketClient = new WebSocketClient();
export default websocketClient;
