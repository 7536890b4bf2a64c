// The RETURN_CONTROL tools the browser fulfils (client/tools.py declares them for the agent):
// get_local_time from this device's clock, confirm_with_user as a modal dialog. Results follow the
// CLI client's contract (client/tools_runner.py): REPROMPT for a call the model can fix, FAILURE otherwise.

export const CLIENT_ACTION_GROUP = "client_tools";
const MAX_QUESTION_CHARS = 500;

function offset(date) {
  const minutes = -date.getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

export function localTime(now = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  const date = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  const time = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  return {
    iso: `${date}T${time}${offset(now)}`,
    date,
    time,
    weekday: now.toLocaleDateString("en-US", { weekday: "long" }),
    utcOffset: offset(now),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || null,
  };
}

function parameter(input, name) {
  const entry = (input.parameters || []).find((p) => p && p.name === name);
  return entry ? entry.value : undefined;
}

/**
 * Fulfil one invocation input. `ask(question)` resolves to true/false (the dialog).
 * Returns {result, label} where result is a member of returnControlResults.results.
 */
export async function fulfil(input, ask) {
  const group = input.actionGroup || "";
  const echo = input.agentId ? { agentId: input.agentId } : {};
  if (!("function" in input)) {
    return {
      label: `${input.httpMethod || "GET"} ${input.apiPath || "/"}`,
      result: {
        actionGroup: group,
        apiPath: input.apiPath || "/",
        httpMethod: input.httpMethod || "GET",
        httpStatusCode: 501,
        body: JSON.stringify({ error: `this client implements no API operations (action group '${group}')` }),
        responseState: "FAILURE",
        ...echo,
      },
    };
  }
  const fn = input.function;
  const answer = (body, state) => ({
    label: fn,
    result: { actionGroup: group, function: fn, body, ...(state ? { responseState: state } : {}), ...echo },
  });
  if (group !== CLIENT_ACTION_GROUP) {
    return answer(`This client only runs the action group '${CLIENT_ACTION_GROUP}'; '${group}' is not available here.`, "FAILURE");
  }
  if (fn === "get_local_time") return answer(JSON.stringify(localTime()));
  if (fn === "confirm_with_user") {
    const raw = parameter(input, "question");
    const question = typeof raw === "string" ? raw.split(/\s+/).filter(Boolean).join(" ") : "";
    if (!question) return answer("The question is empty: call confirm_with_user with the yes/no question to ask.", "REPROMPT");
    if (question.length > MAX_QUESTION_CHARS) {
      return answer(`The question has ${question.length} characters; keep it under ${MAX_QUESTION_CHARS} and ask again.`, "REPROMPT");
    }
    const yes = await ask(question);
    return { ...answer(JSON.stringify({ question, answer: yes ? "yes" : "no" })), asked: question, yes };
  }
  return answer(`Function '${fn}' does not exist in action group '${group}'. Known functions: get_local_time, confirm_with_user.`, "FAILURE");
}
