// The chat API (docs/api.md) over fetch, every request signed with SigV4.
// `send` reports the answer through `onText` as it arrives: the buffered JSON contract delivers it in
// one piece; a streaming contract (NDJSON events) can call `onText` per chunk without changing callers.

import { signRequest } from "./sigv4.js";

export class ApiError extends Error {
  constructor({ status, code, message, requestId, retryAfter }) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.retryAfter = retryAfter;
  }
}

export class ChatApi {
  constructor(config, credentials, fetchImpl = (...args) => fetch(...args)) {
    this.url = config.apiUrl;
    this.region = config.region;
    this.credentials = credentials; // async () => {accessKeyId, secretAccessKey, sessionToken}
    this.fetch = fetchImpl;
  }

  async request(method, url, payload) {
    const body = payload === undefined ? "" : JSON.stringify(payload);
    const headers = payload === undefined ? {} : { "content-type": "application/json" };
    const signed = await signRequest({ method, url, headers, body }, await this.credentials(), this.region);
    let response;
    try {
      response = await this.fetch(url, {
        method,
        headers: { ...headers, ...signed },
        body: body || undefined,
        mode: "cors",
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError({
        status: 0,
        code: "NETWORK_ERROR",
        message: "The chat service could not be reached. Check your connection and try again.",
      });
    }
    return response;
  }

  async failure(response) {
    const text = await response.text();
    let error = null;
    try {
      error = JSON.parse(text).error;
    } catch {
      /* not the error envelope */
    }
    return new ApiError({
      status: response.status,
      code: (error && error.code) || `HTTP_${response.status}`,
      message: (error && error.message) || `The chat service answered ${response.status} ${response.statusText}.`,
      requestId: (error && error.requestId) || response.headers.get("x-amzn-requestid") || undefined,
      retryAfter: response.headers.get("retry-after") || undefined,
    });
  }

  /** POST /chat: one user turn (or return-of-control results). Resolves to the reply object. */
  async send(payload, { onText = () => {} } = {}) {
    const response = await this.request("POST", this.url, payload);
    if (!response.ok) throw await this.failure(response);
    const reply = await response.json();
    if (reply.completion) onText(reply.completion);
    return reply;
  }

  /** DELETE /chat/{sessionId}: ends the session on the agent's side. */
  async endSession(sessionId) {
    const response = await this.request("DELETE", `${this.url}/${encodeURIComponent(sessionId)}`);
    if (!response.ok && response.status !== 404) throw await this.failure(response);
  }
}
