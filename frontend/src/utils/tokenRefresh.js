/**
 * Access-token refresh over REST: POST /api/auth/refresh {refresh_token} → new access and
 * refresh tokens. Refresh tokens rotate and a reused one revokes the session, so calls are
 * serialized: concurrent callers share the one request in flight.
 */
export class RestTokenRefresher {
  /**
   * @param {string} url the refresh endpoint
   * @param {string} refreshToken
   * @param {(tokens: {access_token: string, refresh_token: string, expires_in: number}) => void}
   *   onTokens called with every rotated pair (the app stores the new refresh token)
   */
  constructor(url, refreshToken, onTokens) {
    Object.assign(this, { url, refreshToken, onTokens, inFlight: null });
  }

  /** @returns {Promise<string>} a fresh access token */
  refresh() {
    this.inFlight ??= this._request().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  async _request() {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: this.refreshToken }),
    });
    if (!response.ok) throw new Error(`token refresh failed: HTTP ${response.status}`);
    const { access_token, refresh_token, expires_in } = await response.json();
    this.refreshToken = refresh_token;
    this.onTokens({ access_token, refresh_token, expires_in });
    return access_token;
  }
}
