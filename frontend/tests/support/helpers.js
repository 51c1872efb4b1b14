/** REST sign-in, users made by the admin, event waits and the server-side emitter. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocketClient } from '../../src/utils/websocketClient.js';
import { pythonExecutable, REPO_ROOT } from './server.js';

const EMITTER = fileURLToPath(new URL('./emit_events.py', import.meta.url));
export const PASSWORD = 'correct horse battery staple';
let counter = 0;

async function post(url, body, token) {
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`POST ${url}: HTTP ${response.status} ${JSON.stringify(data)}`);
  return data;
}

/** POST /api/auth/login → {access_token, refresh_token, session_id, user, …}. */
export function login(server, username, password) {
  return post(`${server.url}/api/auth/login`, { username, password });
}

const adminLogins = new Map(); // server url → {admin, at}

/** The admin's login, reused for 20 s (a test server may issue 30-second tokens). */
async function adminLogin(server) {
  const cached = adminLogins.get(server.url);
  if (cached && Date.now() - cached.at < 20000) return cached.admin;
  const admin = await login(server, 'admin', server.adminPassword);
  adminLogins.set(server.url, { admin, at: Date.now() });
  return admin;
}

/** A new user (created by the admin) signed in: the login answer. */
export async function newUser(server, role = 'user') {
  const admin = await adminLogin(server);
  counter += 1;
  const username = `js_${role}_${process.pid}_${Date.now().toString(36)}_${counter}`;
  await post(
    `${server.url}/api/admin/users`,
    { username, password: PASSWORD, role },
    admin.access_token,
  );
  return login(server, username, PASSWORD);
}

/** A client connected as `account` (a login answer); options go to connect(). */
export async function connected(server, account, options = {}) {
  const client = new WebSocketClient();
  const token = options.getToken ? undefined : account.access_token;
  await client.connect(server.url, account.user.id, account.session_id, { token, ...options });
  return client;
}

/**
 * The next `event` on `client` whose data satisfies `predicate`, or a rejection after
 * `timeoutMs` naming what was awaited.
 */
export function waitFor(client, event, predicate = () => true, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    const off = client.on(event, (data) => {
      if (!predicate(data)) return;
      clearTimeout(timer);
      off();
      resolve(data);
    });
  });
}

/** Collect every `event` on `client` into an array. */
export function collect(client, event) {
  const seen = [];
  client.on(event, (data) => seen.push(data));
  return seen;
}

/** A promise with its resolve exposed (to hold back a token getter, i.e. a reconnect). */
export function gate() {
  let open;
  const promise = new Promise((resolve) => (open = resolve));
  return { promise, open };
}

let emitter = null;

function startEmitter(server) {
  const args = [EMITTER, '--redis-url', server.redisUrl, '--database-url', server.databaseUrl];
  // The appender bounds the recovery log, so it needs the server's WS_RECOVERY_* settings.
  const child = spawn(pythonExecutable(), args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...server.settings },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr = [];
  child.stderr.setEncoding('utf8').on('data', (chunk) => stderr.push(chunk));
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  const failAll = () => {
    for (const { reject } of waiting.splice(0)) {
      reject(new Error(`the emitter helper exited:\n${stderr.join('')}`));
    }
  };
  lines.on('line', (line) => waiting.shift()?.resolve(JSON.parse(line)));
  child.once('exit', failAll);
  const next = () => new Promise((resolve, reject) => waiting.push({ resolve, reject }));
  const ready = next();
  return {
    child,
    ready,
    async request(body) {
      await ready;
      const reply = next();
      child.stdin.write(`${JSON.stringify(body)}\n`);
      return reply;
    },
  };
}

/**
 * Emit `count` events to a user's room from another process, through the server's Redis
 * (the write-only path a Celery worker uses). Returns the recovery offsets they got.
 */
export async function emitToUser(server, userId, event, count, data = {}) {
  emitter ??= startEmitter(server);
  const reply = await emitter.request({ user_id: userId, event, count, data });
  if (reply.error) throw new Error(`emitter: ${reply.error}`);
  return reply.offsets;
}

/** Start the emitter helper now (in beforeAll), so that emits in tests are quick. */
export async function startEmitterFor(server) {
  emitter ??= startEmitter(server);
  await emitter.ready;
}

/** End the emitter helper of this test file (call in afterAll). */
export async function stopEmitter() {
  if (!emitter) return;
  const { child } = emitter;
  emitter = null;
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin.end(); // EOF ends its loop
  await exited;
}
