// The chat API (docs/api.md, docs/streaming.md) over fetch, every request signed with SigV4.
// `send` asks for the streamed representation (Accept: application/x-ndjson) and reports the answer
// through `onText` as it arrives; an API that answers buffered JSON (apiStreaming off) delivers it in
// one piece. Either way `send` resolves to the buffered reply shape.

import { signRequest } from "./sigv4.js";

export class ApiError extends Error {
  constructor({ status, code, message, requestId, retryAfter, partial = false }) {
    super(message);
    this.partial = partial; // part of the answer was shown before the failure
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

  async request(method, url, payload, accept = "application/json") {
    const body = payload === undefined ? "" : JSON.stringify(payload);
    const headers = payload === undefined ? {} : { "content-type": "application/json" };
    const signed = await signRequest({ method, url, headers, body }, await this.credentials(), this.region);
    let response;
    try {
      response = await this.fetch(url, {
        method,
        headers: { ...headers, ...signed, accept },
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
    const response = await this.request("POST", this.url, payload, "application/x-ndjson, application/json;q=0.9");
    if (!response.ok) throw await this.failure(response);
    if ((response.headers.get("content-type") || "").startsWith("application/x-ndjson")) {
      return readStream(response, onText);
    }
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

/** Reads NDJSON events (docs/streaming.md) into the buffered reply shape, text as it arrives. */
export async function readStream(response, onText) {
  const reply = { sessionId: undefined, completion: "", citations: [], guardrailInterventions: [], returnControl: undefined };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  let finished = false;
  const handle = (line) => {
    if (!line.trim()) return;
    const event = JSON.parse(line);
    if (event.type === "chunk") {
      reply.completion += event.text;
      onText(event.text);
    } else if (event.type === "citation") {
      reply.citations.push(...(event.citations || []));
    } else if (event.type === "returnControl") {
      reply.returnControl = event.returnControl;
    } else if (event.type === "guardrailIntervention") {
      reply.guardrailInterventions.push(event.guardrailIntervention);
    } else if (event.type === "done") {
      reply.sessionId = event.sessionId;
      finished = true;
    } else if (event.type === "error") {
      finished = true;
      const error = event.error || {};
      throw new ApiError({
        status: event.status || 502,
        code: error.code || "STREAM_ERROR",
        message: error.message || "The answer failed part-way.",
        requestId: error.requestId,
        partial: reply.completion.length > 0,
      });
    } // other types may be added later: ignored
  };
  for (;;) {
    const { value, done } = await reader.read();
    pending += decoder.decode(value || new Uint8Array(), { stream: !done });
    const lines = pending.split("\n");
    pending = lines.pop();
    for (const line of lines) handle(line);
    if (done) break;
  }
  handle(pending);
  if (!finished) {
    throw new ApiError({
      status: 0,
      code: "STREAM_CUT",
      message: "The answer was cut off before it finished and may be incomplete. The agent may already have acted: check before asking again.",
      partial: reply.completion.length > 0,
    });
  }
  return reply;
}
