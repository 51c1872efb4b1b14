/** vitest globalSetup: one real server for every test file (provided as `server`). */
import { startServer } from './server.js';

let server;

export async function setup({ provide }) {
  // A small recovery log, so the out-of-window case needs a few events only.
  server = await startServer({ WS_RECOVERY_MAX_EVENTS: '20' });
  const { url, port, adminPassword, redisUrl, databaseUrl, settings } = server;
  provide('server', { url, port, adminPassword, redisUrl, databaseUrl, settings });
}

export async function teardown() {
  await server?.stop();
}
