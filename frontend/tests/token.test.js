/**
 * Token refresh on `token_expiring`, against a server of its own whose access tokens live
 * 30 s (the minimum) and which warns 29 s before expiry: the warning arrives ~1 s after login.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketClient } from '../src/utils/websocketClient.js';
import { collect, newUser, waitFor } from './support/helpers.js';
import { startServer } from './support/server.js';

let server;

beforeAll(async () => {
  server = await startServer({ JWT_ACCESS_TOKEN_SECONDS: '30', WS_TOKEN_WARNING_SECONDS: '29' });
});
afterAll(() => server?.stop());

async function refreshOverRest(refreshToken) {
  const response = await fetch(`${server.url}/api/auth/refresh`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: refreshToken }),
  });
  expect(response.status).toBe(200);
  return response.json();
}

describe('token refresh', () => {
  it('asks the getter for a fresh token and hands it over with update_token', async () => {
    const account = await newUser(server);
    let refreshToken = account.refresh_token;
    let calls = 0;
    const getToken = async () => {
      calls += 1;
      if (calls === 1) return account.access_token; // the connect
      const fresh = await refreshOverRest(refreshToken);
      refreshToken = fresh.refresh_token;
      return fresh.access_token;
    };
    const client = new WebSocketClient();
    const expiring = waitFor(client, 'token_expiring');
    const updated = waitFor(client, 'token_updated');
    const refreshed = waitFor(client, 'token_refreshed');
    const disconnects = collect(client, 'disconnect');
    try {
      const info = await client.connect(server.url, account.user.id, account.session_id, {
        getToken,
      });
      const warning = await expiring;
      expect(warning.expires_at).toBe(info.token_expires_at);
      expect(warning.seconds_left).toBeLessThanOrEqual(29);
      const { expires_at } = await refreshed;
      expect(expires_at).toBeGreaterThanOrEqual(info.token_expires_at);
      expect(await updated).toEqual({ expires_at });
      expect(calls).toBeGreaterThanOrEqual(2);
      expect(client.connected).toBe(true);
      expect(await client.ping()).toBeGreaterThanOrEqual(0);
      expect(disconnects).toEqual([]);
    } finally {
      client.disconnect();
    }
  });

  it('refreshes over REST itself with a refresh token and reports the rotated tokens', async () => {
    const account = await newUser(server);
    const client = new WebSocketClient();
    const tokens = waitFor(client, 'tokens');
    const refreshed = waitFor(client, 'token_refreshed');
    const failures = collect(client, 'token_refresh_failed');
    try {
      await client.connect(server.url, account.user.id, account.session_id, {
        token: account.access_token,
        refreshToken: account.refresh_token,
      });
      const rotated = await tokens;
      expect(rotated.access_token).not.toBe(account.access_token);
      expect(rotated.refresh_token).not.toBe(account.refresh_token);
      expect(rotated.expires_in).toBe(30);
      await refreshed;
      expect(client.connected).toBe(true);
      expect(await client.ping()).toBeGreaterThanOrEqual(0);
      expect(failures).toEqual([]);
    } finally {
      client.disconnect();
    }
  });
});
