// Sign-in with the Cognito hosted UI: authorization code flow with PKCE (S256), no client secret.
// The ID token is kept in sessionStorage (this tab only) and exchanged for short-lived AWS
// credentials of the identity pool's authenticated role, which may call the chat API only.

const TOKENS = "chat.tokens";
const PENDING = "chat.pkce";
const CREDENTIALS_MARGIN_MS = 5 * 60 * 1000;

function base64url(bytes) {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export function redirectUri() {
  return `${location.origin}/`;
}

export class SignInError extends Error {}

export class Session {
  constructor(config, storage = sessionStorage) {
    this.config = config;
    this.storage = storage;
    this.credentials = null;
  }

  idToken() {
    const raw = this.storage.getItem(TOKENS);
    if (!raw) return null;
    try {
      const tokens = JSON.parse(raw);
      if (typeof tokens.idToken === "string" && tokens.expiresAt > Date.now()) return tokens.idToken;
    } catch {
      /* unreadable: sign in again */
    }
    this.storage.removeItem(TOKENS);
    return null;
  }

  async signIn() {
    const verifier = randomString(48);
    const state = randomString(16);
    this.storage.setItem(PENDING, JSON.stringify({ verifier, state }));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: this.config.clientId,
      redirect_uri: redirectUri(),
      scope: "openid email",
      state,
      code_challenge: await challengeOf(verifier),
      code_challenge_method: "S256",
    });
    location.assign(`${this.config.authDomain}/oauth2/authorize?${query}`);
  }

  /** On the return from the hosted UI (?code=…&state=…): trade the code for tokens. */
  async completeSignIn(url = new URL(location.href)) {
    const code = url.searchParams.get("code");
    const error = url.searchParams.get("error");
    if (!code && !error) return false;
    history.replaceState(null, "", url.pathname);
    const pending = JSON.parse(this.storage.getItem(PENDING) || "null");
    this.storage.removeItem(PENDING);
    if (error) throw new SignInError(`Sign-in failed: ${url.searchParams.get("error_description") || error}`);
    if (!pending || pending.state !== url.searchParams.get("state")) {
      throw new SignInError("Sign-in failed: the answer does not belong to this tab's sign-in. Sign in again.");
    }
    const response = await fetch(`${this.config.authDomain}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        client_id: this.config.clientId,
        code,
        redirect_uri: redirectUri(),
        code_verifier: pending.verifier,
      }),
    });
    const tokens = await response.json().catch(() => ({}));
    if (!response.ok || typeof tokens.id_token !== "string") {
      throw new SignInError(`Sign-in failed: ${tokens.error_description || tokens.error || response.status}. Sign in again.`);
    }
    const lifetime = Number(tokens.expires_in) || 3600;
    this.storage.setItem(TOKENS, JSON.stringify({ idToken: tokens.id_token, expiresAt: Date.now() + lifetime * 1000 }));
    return true;
  }

  signOut() {
    this.storage.removeItem(TOKENS);
    this.credentials = null;
    const query = new URLSearchParams({ client_id: this.config.clientId, logout_uri: redirectUri() });
    location.assign(`${this.config.authDomain}/logout?${query}`);
  }

  /** Temporary AWS credentials for the signed-in user (Cognito Identity, enhanced flow). */
  async awsCredentials() {
    if (this.credentials && this.credentials.expiresAt - CREDENTIALS_MARGIN_MS > Date.now()) return this.credentials;
    const token = this.idToken();
    if (!token) throw new SignInError("Your sign-in has expired. Sign in again.");
    const logins = { [`cognito-idp.${this.config.region}.amazonaws.com/${this.config.userPoolId}`]: token };
    const { IdentityId } = await this.identityCall("GetId", { IdentityPoolId: this.config.identityPoolId, Logins: logins });
    const { Credentials } = await this.identityCall("GetCredentialsForIdentity", { IdentityId, Logins: logins });
    this.credentials = {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretKey,
      sessionToken: Credentials.SessionToken,
      expiresAt: Number(Credentials.Expiration) * 1000,
    };
    return this.credentials;
  }

  async identityCall(action, payload) {
    const endpoint = this.config.identityEndpoint || `https://cognito-identity.${this.config.region}.amazonaws.com/`;
    const response = await fetch(endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityService.${action}`,
      },
      body: JSON.stringify(payload),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      if (response.status === 400 && /NotAuthorized/.test(body.__type || "")) {
        this.storage.removeItem(TOKENS);
        throw new SignInError("Your sign-in is no longer accepted. Sign in again.");
      }
      throw new Error(`Cognito Identity ${action} failed (${response.status}): ${body.message || body.__type || "no detail"}`);
    }
    return body;
  }
}
