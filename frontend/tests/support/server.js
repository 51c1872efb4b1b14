/**
 * A real platform server process for the tests: `python run.py --standalone --port <free>`
 * from the repository root, on a private SQLite file, with the embedded Redis stand-in.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const START_DEADLINE_MS = 90000;

export function pythonExecutable() {
  if (process.env.PYTHON) return process.env.PYTHON;
  const venv = join(REPO_ROOT, '.venv/bin/python');
  return existsSync(venv) ? venv : 'python3';
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

async function waitHealthy(url, child, output, deadline) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the test server did not become healthy at ${url}:\n${output.join('')}`);
}

/**
 * Start a server; `env` adds settings (e.g. JWT_ACCESS_TOKEN_SECONDS).
 * @returns {Promise<{url, port, adminPassword, redisUrl, databaseUrl, settings, output, stop}>}
 */
export async function startServer(env = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'zt-frontend-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const databaseUrl = `sqlite:///${join(dir, 'x.sqlite3')}`;
  const child = spawn(pythonExecutable(), ['run.py', '--standalone', '--port', String(port)], {
    cwd: REPO_ROOT,
    detached: true, // its own process group, so stop() also ends its child processes
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      STANDALONE_DATABASE_URL: databaseUrl,
      STANDALONE_STATE_FILE: join(dir, 'standalone.json'),
      SOCKETIO_ASYNC_MODE: 'eventlet',
      WS_MAINTENANCE_INTERVAL_MS: '100',
      PASSWORD_HASH_METHOD: 'pbkdf2:sha256:1000',
      LOG_LEVEL: 'WARNING',
      PYTHONUNBUFFERED: '1',
      ...env,
    },
  });
  const output = [];
  let adminPassword = null;
  let redisUrl = null;
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    output.push(chunk);
    const text = output.join('');
    adminPassword ??= text.match(/created admin '[^']+' with password (\S+)/)?.[1] ?? null;
    redisUrl ??= text.match(/embedded stand-in at (redis:\/\/[\d.]+:\d+)/)?.[1] ?? null;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk) => output.push(chunk));
  const exited = new Promise((r) => child.once('exit', r));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 10000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitHealthy(url, child, output, Date.now() + START_DEADLINE_MS);
    if (!adminPassword || !redisUrl)
      throw new Error(`no admin password or Redis URL in:\n${output.join('')}`);
  } catch (err) {
    await stop();
    throw err;
  }
  // `settings`: what other processes of this deployment (the emitter helper) must share.
  return { url, port, adminPassword, redisUrl, databaseUrl, settings: env, output, stop };
}
