// AWS Signature Version 4 for API Gateway (service execute-api), with the browser's Web Crypto.
// Same canonical form as botocore's SigV4Auth: the path as sent, each segment URI-encoded again;
// signed headers host, x-amz-date, x-amz-security-token and content-type; the body's SHA-256.

const encoder = new TextEncoder();

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

async function hmac(key, text) {
  const raw = typeof key === "string" ? encoder.encode(key) : key;
  const cryptoKey = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(text)));
}

// RFC 3986: everything but A-Z a-z 0-9 - . _ ~ is percent-encoded (encodeURIComponent leaves !'()*).
export function uriEncode(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

export function amzDate(now) {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

function canonicalQuery(searchParams) {
  return [...searchParams.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
}

/**
 * Headers to add to the request: Authorization, X-Amz-Date and (for temporary credentials)
 * X-Amz-Security-Token. `headers` are the request's own headers that are signed too.
 */
export async function signRequest({ method, url, headers = {}, body = "" }, credentials, region, now = new Date(), service = "execute-api") {
  const target = new URL(url);
  const date = amzDate(now);
  const day = date.slice(0, 8);
  const signed = { host: target.host, "x-amz-date": date };
  for (const [name, value] of Object.entries(headers)) signed[name.toLowerCase()] = String(value);
  if (credentials.sessionToken) signed["x-amz-security-token"] = credentials.sessionToken;
  const names = Object.keys(signed).sort();
  const canonicalHeaders = names.map((n) => `${n}:${signed[n].trim().replace(/\s+/g, " ")}\n`).join("");
  const signedHeaders = names.join(";");
  const path = target.pathname.split("/").map(uriEncode).join("/") || "/";
  const canonical = [
    method.toUpperCase(),
    path,
    canonicalQuery(target.searchParams),
    canonicalHeaders,
    signedHeaders,
    await sha256Hex(body),
  ].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, await sha256Hex(canonical)].join("\n");
  let key = await hmac("AWS4" + credentials.secretAccessKey, day);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  const added = {
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    "x-amz-date": date,
  };
  if (credentials.sessionToken) added["x-amz-security-token"] = credentials.sessionToken;
  return added;
}
