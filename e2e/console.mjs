// The operator console in a real browser (docs/console.md): headless
// Chromium, driven over the DevTools protocol with Node's own WebSocket
// (no npm package), loads each /console page with an admin key, checks
// what it shows against the running server (its tools over MCP, its keys,
// its audit file), checks that a request without credentials, with a
// non-admin key or with a foreign Origin is refused, and saves a
// screenshot of each page.
//
// usage: node console.mjs BASE_URL CHROMIUM AUDIT_FILE OUT_DIR
// env:   CONSOLE_ADMIN_KEY, CONSOLE_AGENT_KEY
// Every wait is bounded; Chromium is killed on any exit.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, chromiumBin, auditFile, outDir] = process.argv.slice(2);
const admin = process.env.CONSOLE_ADMIN_KEY;
const agent = process.env.CONSOLE_AGENT_KEY;
if (!base || !chromiumBin || !auditFile || !outDir || !admin || !agent) {
  console.error("usage: node console.mjs BASE_URL CHROMIUM AUDIT_FILE OUT_DIR (with CONSOLE_ADMIN_KEY, CONSOLE_AGENT_KEY)");
  process.exit(2);
}

let failures = 0;
let passes = 0;
const ok = (cond, what) => {
  console.log(`${cond ? "ok  " : "FAIL"} ${what}`);
  if (!cond) failures++;
  else passes++;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out: ${what}`)), ms))]);

// --- the server's own state, over MCP as the agent ------------------------
async function mcp(body, session) {
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${agent}` };
  if (session) Object.assign(headers, { "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" });
  const r = await fetch(`${base}/mcp`, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(30000) });
  const text = await r.text();
  const data = text.split("\n").find((l) => l.startsWith("data: "));
  const json = text.startsWith("{") ? JSON.parse(text) : data ? JSON.parse(data.slice(6)) : null; // a notification: 202, no body
  return { r, json };
}
const init = await mcp({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "console-e2e", version: "0" } } });
const sid = init.r.headers.get("mcp-session-id");
await mcp({ jsonrpc: "2.0", method: "notifications/initialized" }, sid);
const list = await mcp({ jsonrpc: "2.0", id: 2, method: "tools/list" }, sid);
const toolNames = list.json.result.tools.map((t) => t.name).sort();
ok(toolNames.length > 0, `the server lists ${toolNames.length} tools to the agent`);
// One call (its outcome does not matter) and one unknown tool: activity.
await mcp({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: toolNames[0], arguments: { name: "console" } } }, sid);
await mcp({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "no_such_tool", arguments: {} } }, sid);

// --- refusals, without a browser -------------------------------------------
const status = async (headers) => (await fetch(`${base}/console`, { headers, signal: AbortSignal.timeout(30000) })).status;
ok((await status({})) === 401, "no credentials: 401");
ok((await status({ authorization: `Bearer ${agent}` })) === 403, "a key without the admin scope: 403");
ok((await status({ authorization: `Bearer ${admin}`, origin: "https://evil.example" })) === 403, "the admin key from a foreign Origin: 403");
ok((await status({ authorization: `Bearer ${admin}` })) === 200, "the admin key: 200");

// --- Chromium over the DevTools protocol ------------------------------------
const profile = mkdtempSync(join(tmpdir(), "moat-console-chromium-"));
const chrome = spawn(chromiumBin, [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", `--user-data-dir=${profile}`, "--remote-debugging-port=0",
  "--remote-debugging-address=127.0.0.1", "about:blank",
], { stdio: ["ignore", "ignore", "pipe"] });
let chromeErr = "";
chrome.stderr.on("data", (d) => { chromeErr = (chromeErr + d).slice(-4000); });
const stop = () => {
  try { chrome.kill("SIGKILL"); } catch {}
  try { rmSync(profile, { recursive: true, force: true }); } catch {}
};
process.on("exit", stop);

let ws;
try {
  // Chromium writes its port to DevToolsActivePort once it listens.
  const portFile = join(profile, "DevToolsActivePort");
  for (let i = 0; i < 240 && !existsSync(portFile); i++) await sleep(250);
  if (!existsSync(portFile)) throw new Error(`Chromium did not start within a minute: ${chromeErr}`);
  const [port, path] = readFileSync(portFile, "utf8").trim().split("\n");
  ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  await withTimeout(new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error("DevTools socket error")); }), 30000, "DevTools socket");

  let nextId = 1;
  const pending = new Map();
  const listeners = [];
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.id && pending.has(m.id)) {
      const { res, rej } = pending.get(m.id);
      pending.delete(m.id);
      m.error ? rej(new Error(`${m.error.message}`)) : res(m.result);
    } else if (m.method) {
      for (const l of [...listeners]) l(m);
    }
  };
  const send = (method, params = {}, sessionId) => {
    const id = nextId++;
    ws.send(JSON.stringify({ id, method, params, sessionId }));
    return withTimeout(new Promise((res, rej) => pending.set(id, { res, rej })), 60000, method);
  };
  const once = (pred, ms, what) => withTimeout(new Promise((res) => {
    const l = (m) => { if (pred(m)) { listeners.splice(listeners.indexOf(l), 1); res(m); } };
    listeners.push(l);
  }), ms, what);

  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId: s } = await send("Target.attachToTarget", { targetId, flatten: true });
  await send("Page.enable", {}, s);
  await send("Network.enable", {}, s);
  await send("Runtime.enable", {}, s);
  await send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false }, s);
  const cspViolations = [];
  listeners.push((m) => {
    if (m.sessionId === s && m.method === "Runtime.consoleAPICalled") cspViolations.push(JSON.stringify(m.params.args));
    if (m.sessionId === s && m.method === "Log.entryAdded" && /Content Security Policy/.test(m.params.entry.text)) cspViolations.push(m.params.entry.text);
  });
  await send("Log.enable", {}, s);

  // load navigates with headers and returns the document's status and text.
  const load = async (path, headers) => {
    await send("Network.setExtraHTTPHeaders", { headers }, s);
    const resp = once((m) => m.sessionId === s && m.method === "Network.responseReceived" && m.params.type === "Document", 60000, `response of ${path}`);
    const loaded = once((m) => m.sessionId === s && m.method === "Page.loadEventFired", 60000, `load of ${path}`);
    await send("Page.navigate", { url: `${base}${path}` }, s);
    const r = await resp;
    await loaded;
    const text = (await send("Runtime.evaluate", { expression: "document.body ? document.body.innerText : ''", returnByValue: true }, s)).result.value;
    return { status: r.params.response.status, headers: r.params.response.headers, text };
  };

  // Refusals in the browser too.
  ok((await load("/console", {})).status === 401, "browser, no credentials: 401");
  ok((await load("/console", { Authorization: `Bearer ${agent}` })).status === 403, "browser, non-admin key: 403");
  ok((await load("/console", { Authorization: `Bearer ${admin}`, Origin: "https://evil.example" })).status === 403, "browser, foreign Origin: 403");

  const auth = { Authorization: `Bearer ${admin}` };
  const shot = async (name) => {
    const { data } = await send("Page.captureScreenshot", { format: "png", captureBeyondViewport: false }, s);
    writeFileSync(join(outDir, `console-${name}.png`), Buffer.from(data, "base64"));
  };

  // tools: every tool the server serves, with its capability columns.
  let p = await load("/console/tools", auth);
  ok(p.status === 200, "tools page: 200");
  ok((p.headers["content-security-policy"] || p.headers["Content-Security-Policy"] || "").includes("frame-ancestors 'none'"), "tools page: CSP with frame-ancestors 'none'");
  for (const n of toolNames) ok(p.text.includes(n), `tools page shows ${n}`);
  ok(/isolation/.test(p.text) && /approval/.test(p.text), "tools page has the capability columns");
  const styled = (await send("Runtime.evaluate", { expression: "getComputedStyle(document.querySelector('header')).display", returnByValue: true }, s)).result.value;
  ok(styled === "flex", "the embedded stylesheet loads under the CSP");
  await shot("tools");

  // access: both keys, a column per tool.
  p = await load("/console/access", auth);
  ok(p.status === 200 && p.text.includes("ops") && p.text.includes("agent"), "access page shows both keys");
  ok(toolNames.slice(0, 25).every((n) => p.text.includes(n)), "access page has a column per tool");
  await shot("access");

  // activity: the call, the refusals, and an audit head that is a line of
  // the audit file.
  p = await load("/console/activity", auth);
  ok(p.status === 200 && p.text.includes(toolNames[0]), `activity page shows the call of ${toolNames[0]}`);
  ok(p.text.includes("auth_failed"), "activity page shows the failed authentication");
  ok(p.text.includes("admin scope is required"), "activity page shows the non-admin refusal");
  const head = (p.text.match(/seq \d+ · ([0-9a-f]{64})/) || [])[1];
  const lines = readFileSync(auditFile, "utf8").split("\n").filter(Boolean);
  const hashes = new Set(lines.map((l) => createHash("sha256").update(l).digest("hex")));
  lines.forEach((l) => hashes.add(createHash("sha256").update(l + "\n").digest("hex")));
  ok(head && hashes.has(head), "activity page's audit head is a line of the audit file");
  ok(/ok: \d+ lines/.test(p.text), "activity page says the audit chain verifies");
  await shot("activity");

  p = await load("/console/reloads", auth);
  ok(p.status === 200 && /\tok\tnothing/.test(p.text), "reloads page shows the SIGHUP reload");
  await shot("reloads");

  ok(cspViolations.length === 0, `no CSP violation or console message (${cspViolations.slice(0, 3).join("; ")})`);
} catch (e) {
  console.log(`FAIL ${e.message}`);
  failures++;
} finally {
  try { ws && ws.close(); } catch {}
  stop();
}
console.log(`console: ${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
