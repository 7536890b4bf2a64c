// The chat page: loads config.json, signs the user in (Cognito hosted UI, PKCE), then sends turns to
// the chat API and answers the agent's client-side tools. No inline script or style anywhere, so the
// Content-Security-Policy (script-src 'self'; style-src 'self') holds.

import { ApiError, ChatApi } from "./api.js";
import { Session, SignInError } from "./auth.js";
import { fulfil } from "./tools.js";

const MAX_TOOL_ROUNDS = 5;
const $ = (id) => document.getElementById(id);

const ui = {
  status: $("status"),
  error: $("error"),
  chat: $("chat"),
  log: $("log"),
  form: $("composer"),
  message: $("message"),
  send: $("send"),
  signedOut: $("signed-out"),
  signIn: $("sign-in"),
  signOut: $("sign-out"),
  newSession: $("new-session"),
  dialog: $("confirm"),
  question: $("confirm-question"),
};

let api = null;
let session = null;
let sessionId = null;

function setStatus(text) {
  ui.status.textContent = text;
}

function showError(error) {
  let text;
  if (error instanceof ApiError) {
    const details = [`code ${error.code}`];
    if (error.requestId) details.push(`request ${error.requestId}`);
    if (error.retryAfter) details.push(`retry after ${error.retryAfter} s`);
    text = `${error.message} (${details.join(", ")})`;
  } else {
    text = error && error.message ? error.message : String(error);
  }
  ui.error.textContent = text;
  ui.error.hidden = false;
  addMessage("error", "Error", text);
  if (error instanceof SignInError) showSignedOut();
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = "";
}

function addMessage(kind, who, text = "") {
  const item = document.createElement("li");
  item.className = `message ${kind}`;
  const label = document.createElement("span");
  label.className = "who";
  label.textContent = who;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(label, body);
  ui.log.append(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

// Appends to an answer as text arrives (one call for the buffered API, one per chunk when streamed).
function appendText(item, text) {
  item.querySelector(".text").append(document.createTextNode(text));
}

function addCitations(item, citations) {
  const uris = [...new Set(citations.flatMap((c) => (c.references || []).map((r) => r.uri).filter(Boolean)))];
  if (!uris.length) return;
  const list = document.createElement("ol");
  list.className = "citations";
  list.setAttribute("aria-label", "Sources");
  for (const uri of uris) {
    const entry = document.createElement("li");
    entry.textContent = uri;
    list.append(entry);
  }
  item.append(list);
}

const GUARDRAIL_SIDES = { INPUT: "your message", OUTPUT: "the answer" };
const GUARDRAIL_ACTIONS = { BLOCKED: "blocked", ANONYMIZED: "masked sensitive information in" };

// What the guardrail did (docs/api.md, "Guardrail interventions"): the text above is then its message.
function addInterventions(item, interventions) {
  for (const intervention of interventions) {
    const note = document.createElement("p");
    note.className = "guardrail";
    note.setAttribute("role", "note");
    const side = GUARDRAIL_SIDES[intervention.source] || "the turn";
    const action = GUARDRAIL_ACTIONS[intervention.action] || "intervened in";
    const policies = (intervention.policies || []).join(", ");
    note.textContent = `The guardrail ${action} ${side}${policies ? ` (${policies})` : ""}.`;
    item.append(note);
  }
}

function ask(question) {
  return new Promise((resolve) => {
    ui.question.textContent = question;
    ui.dialog.returnValue = "";
    ui.dialog.addEventListener("close", () => resolve(ui.dialog.returnValue === "yes"), { once: true });
    ui.dialog.showModal(); // Esc cancels: an empty returnValue counts as "no"
    $("confirm-no").focus();
  });
}

function busy(on) {
  ui.send.disabled = on;
  ui.message.setAttribute("aria-busy", String(on));
  setStatus(on ? "The agent is answering…" : "");
}

async function converse(payload) {
  let request = payload;
  for (let round = 0; round <= MAX_TOOL_ROUNDS; round += 1) {
    const item = addMessage("agent", "Agent");
    item.setAttribute("aria-busy", "true");
    const dropIfEmpty = () => {
      if (!item.querySelector(".text").textContent) item.remove();
    };
    let reply;
    try {
      reply = await api.send({ ...request, ...(sessionId ? { sessionId } : {}) }, { onText: (t) => appendText(item, t) });
    } catch (error) {
      dropIfEmpty();
      throw error;
    } finally {
      item.removeAttribute("aria-busy");
    }
    sessionId = reply.sessionId;
    addCitations(item, reply.citations || []);
    addInterventions(item, reply.guardrailInterventions || []);
    dropIfEmpty();
    if (!reply.returnControl) return;
    const results = [];
    for (const input of reply.returnControl.invocationInputs || []) {
      const run = await fulfil(input, ask);
      const note = run.asked ? `Asked "${run.asked}": you answered ${run.yes ? "yes" : "no"}.` : `Ran ${run.label} on this device.`;
      addMessage("tool", "Tool", note);
      results.push(run.result);
    }
    request = { returnControlResults: { invocationId: reply.returnControl.invocationId, results } };
  }
  throw new Error("The agent kept asking for tools; the turn was stopped. Rephrase the request.");
}

async function onSubmit(event) {
  event.preventDefault();
  const text = ui.message.value.trim();
  if (!text || ui.send.disabled) return;
  clearError();
  addMessage("user", "You", text);
  ui.message.value = "";
  busy(true);
  try {
    await converse({ inputText: text });
  } catch (error) {
    showError(error);
  } finally {
    busy(false);
    ui.message.focus();
  }
}

async function onNewSession() {
  const ending = sessionId;
  sessionId = null;
  ui.log.replaceChildren();
  clearError();
  setStatus("New session started.");
  ui.message.focus();
  if (ending) {
    try {
      await api.endSession(ending);
    } catch (error) {
      showError(error);
    }
  }
}

function showSignedOut() {
  ui.signedOut.hidden = false;
  ui.chat.hidden = true;
  ui.signOut.hidden = true;
  ui.newSession.hidden = true;
}

function showChat() {
  ui.signedOut.hidden = true;
  ui.chat.hidden = false;
  ui.signOut.hidden = false;
  ui.newSession.hidden = false;
  setStatus("");
  ui.message.focus();
}

async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`The page's config.json could not be loaded (${response.status}).`);
  return response.json();
}

async function start() {
  ui.form.addEventListener("submit", onSubmit);
  ui.message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });
  ui.newSession.addEventListener("click", onNewSession);
  try {
    const config = await loadConfig();
    session = new Session(config);
    api = new ChatApi(config, () => session.awsCredentials());
    ui.signIn.addEventListener("click", () => session.signIn().catch(showError));
    ui.signOut.addEventListener("click", () => session.signOut());
    await session.completeSignIn();
    if (session.idToken()) showChat();
    else {
      setStatus("");
      showSignedOut();
    }
  } catch (error) {
    setStatus("");
    showError(error);
  }
}

start();
