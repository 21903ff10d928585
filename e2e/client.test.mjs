// client.test.mjs drives `moat serve` with the official TypeScript MCP
// client (@modelcontextprotocol/sdk): over Streamable HTTP against the
// server e2e/run.sh started, and over stdio against `moat serve --stdio`
// spawned here. It calls the bundled example tools (read_file, list_files)
// and the fixture tools, and asserts exact results.
//
// run.sh sets:
//   MOAT_E2E_URL     the server's /mcp URL (the HTTP tests are skipped without it)
//   MOAT_E2E_BIN     the moat binary (the stdio tests are skipped without it)
//   MOAT_E2E_CONFIG  testdata/conformance/moat.toml
//   MOAT_E2E_CACHE   the compile cache folder shared with the HTTP server
//   MOAT_E2E_KEY     optional API key, sent as "Authorization: Bearer ..."
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CallToolResultSchema,
  LoggingMessageNotificationSchema,
  ProgressNotificationSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SHARE = join(ROOT, 'testdata', 'public-files');
const { MOAT_E2E_URL: URL_, MOAT_E2E_BIN: BIN, MOAT_E2E_CONFIG, MOAT_E2E_CACHE, MOAT_E2E_KEY } = process.env;
const CONFIG = MOAT_E2E_CONFIG ?? join(ROOT, 'testdata', 'conformance', 'moat.toml');

// Every tool the e2e config serves: the conformance fixtures and the examples.
const TOOLS = [
  'e2e_echo',
  'hello_as',
  'hello_c',
  'http_get',
  'json_query',
  'json_schema_2020_12_tool',
  'list_files',
  'read_file',
  'save_file',
  'search_files',
  'test_audio_content',
  'test_custom_headers',
  'test_elicitation',
  'test_elicitation_sep1034_defaults',
  'test_elicitation_sep1330_enums',
  'test_embedded_resource',
  'test_error_handling',
  'test_image_content',
  'test_input_required_result_capabilities',
  'test_input_required_result_elicitation',
  'test_input_required_result_list_roots',
  'test_input_required_result_multi_round',
  'test_input_required_result_multiple_inputs',
  'test_input_required_result_request_state',
  'test_input_required_result_sampling',
  'test_input_required_result_tampered_state',
  'test_logging_tool',
  'test_missing_capability',
  'test_multiple_content_types',
  'test_reconnection',
  'test_sampling',
  'test_simple_text',
  'test_streaming_elicitation',
  'test_tool_with_logging',
  'test_tool_with_progress',
  'write_file',
];

const RED_PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAAEElEQVR42mL6z8AACAAA//8DCQECsLd63wAAAABJRU5ErkJggg==';

function newClient() {
  return new Client({ name: 'moat-e2e', version: '1.0.0' });
}

function text(result) {
  assert.equal(result.content.length, 1, `want one content item, got ${JSON.stringify(result.content)}`);
  assert.equal(result.content[0].type, 'text');
  return result.content[0].text;
}

// waitFor polls cond until it holds; bounded, so a missing notification
// fails the test instead of hanging it. The bound is generous (a minute):
// a passing run never waits for it, and a machine whose cores are busy
// with something else must not fail a run that is only slow.
async function waitFor(cond, what, ms = 60000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The share as list_files describes it, read from disk.
function listShare(rel = '', recursive = false) {
  const out = [];
  for (const name of readdirSync(join(SHARE, rel)).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const st = statSync(join(SHARE, path));
    if (st.isDirectory()) {
      out.push({ path, type: 'dir' });
      if (recursive) out.push(...listShare(path, true));
    } else {
      out.push({ path, type: 'file', size: st.size });
    }
  }
  return out;
}

// Tests every transport runs: connect() returns a connected Client.
function commonTests(connect) {
  let client;
  before(async () => {
    client = await connect();
  });
  after(async () => {
    await client?.close();
  });

  it('introduces itself as moat with tools and logging', () => {
    assert.equal(client.getServerVersion().name, 'moat');
    const caps = client.getServerCapabilities();
    assert.ok(caps.tools, 'tools capability');
    assert.ok(caps.logging, 'logging capability');
  });

  it('lists exactly the configured tools, with their schemas', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
    const readFile = tools.find((t) => t.name === 'read_file');
    assert.equal(readFile.title, 'Read file');
    assert.deepEqual(readFile.inputSchema.required, ['path']);
    assert.equal(readFile.inputSchema.additionalProperties, false);
    assert.deepEqual(Object.keys(readFile.inputSchema.properties).sort(), ['end_line', 'path', 'start_line']);
    assert.equal(readFile.annotations?.readOnlyHint, true);
    const listFiles = tools.find((t) => t.name === 'list_files');
    assert.deepEqual(listFiles.outputSchema.required, ['entries', 'truncated']);
    for (const t of tools) assert.ok(t.description, `${t.name} has a description`);
  });

  it('read_file returns the file as one text item', async () => {
    const res = await client.callTool({ name: 'read_file', arguments: { path: 'notes/todo.txt' } });
    assert.notEqual(res.isError, true);
    assert.equal(text(res), readFileSync(join(SHARE, 'notes', 'todo.txt'), 'utf8'));
  });

  it('read_file returns a range of lines', async () => {
    const res = await client.callTool({
      name: 'read_file',
      arguments: { path: 'notes/todo.txt', start_line: 2, end_line: 3 },
    });
    const lines = readFileSync(join(SHARE, 'notes', 'todo.txt'), 'utf8').split('\n');
    assert.equal(text(res), lines.slice(1, 3).join('\n') + '\n');
  });

  it('read_file cannot leave the share, and says so without host paths', async () => {
    for (const path of ['../../etc/passwd', '/etc/passwd', 'notes/../../../go.mod']) {
      const res = await client.callTool({ name: 'read_file', arguments: { path } });
      assert.equal(res.isError, true, path);
      const msg = text(res);
      assert.ok(!msg.includes(ROOT), `error for ${path} names a host path: ${msg}`);
      assert.ok(!msg.includes('root:'), `error for ${path} shows /etc/passwd`);
    }
  });

  it('arguments that break the input schema are a tool error naming the field', async () => {
    const missing = await client.callTool({ name: 'read_file', arguments: {} });
    assert.equal(missing.isError, true);
    assert.match(text(missing), /^invalid argument/);
    const extra = await client.callTool({ name: 'read_file', arguments: { path: 'README.txt', mode: 'w' } });
    assert.equal(extra.isError, true);
    assert.match(text(extra), /mode/);
    const wrongType = await client.callTool({ name: 'read_file', arguments: { path: 'README.txt', start_line: 'one' } });
    assert.equal(wrongType.isError, true);
    assert.match(text(wrongType), /start_line/);
  });

  it('list_files returns structured content matching the share', async () => {
    const res = await client.callTool({ name: 'list_files', arguments: {} });
    assert.notEqual(res.isError, true);
    assert.deepEqual(res.structuredContent, { entries: listShare(), truncated: false });
    assert.deepEqual(JSON.parse(text(res)), res.structuredContent);
  });

  it('list_files lists sub-folders when asked', async () => {
    const res = await client.callTool({ name: 'list_files', arguments: { recursive: true } });
    assert.deepEqual(res.structuredContent, { entries: listShare('', true), truncated: false });
  });

  it('a tool sees argv[0], its arguments and only its manifest env', async () => {
    const args = { message: 'héllo, "world" \u2603', count: 3 };
    const res = await client.callTool({ name: 'e2e_echo', arguments: args });
    assert.notEqual(res.isError, true);
    assert.deepEqual(JSON.parse(text(res)), {
      argv0: 'e2e_echo',
      args,
      env: ['E2E_GREETING=hello from the manifest'],
    });
  });

  it('concurrent calls each get their own instance and result', async () => {
    const n = 6;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        client.callTool({ name: 'e2e_echo', arguments: { message: `call ${i}`, count: i } }),
      ),
    );
    results.forEach((res, i) => assert.deepEqual(JSON.parse(text(res)).args, { message: `call ${i}`, count: i }));
  });

  it('returns text, image, audio and resource content exactly', async () => {
    assert.deepEqual((await client.callTool({ name: 'test_simple_text', arguments: {} })).content, [
      { type: 'text', text: 'This is a simple text response for testing.' },
    ]);
    assert.deepEqual((await client.callTool({ name: 'test_image_content', arguments: {} })).content, [
      { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' },
    ]);
    const audio = (await client.callTool({ name: 'test_audio_content', arguments: {} })).content;
    assert.equal(audio.length, 1);
    assert.equal(audio[0].mimeType, 'audio/wav');
    const wav = Buffer.from(audio[0].data, 'base64');
    assert.equal(wav.subarray(0, 4).toString(), 'RIFF');
    assert.equal(wav.subarray(8, 12).toString(), 'WAVE');
    assert.deepEqual((await client.callTool({ name: 'test_multiple_content_types', arguments: {} })).content, [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' },
      },
    ]);
  });

  it('a failing tool is a result with isError and its message', async () => {
    const res = await client.callTool({ name: 'test_error_handling', arguments: {} });
    assert.deepEqual(res, {
      content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
      isError: true,
    });
  });

  it('an unknown tool is a protocol error', async () => {
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (err) => {
      assert.ok(err instanceof McpError, String(err));
      assert.match(err.message, /no_such_tool/);
      return true;
    });
  });

  it('forwards log messages at or above the level the client set', async () => {
    const seen = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => seen.push(n.params));
    try {
      await client.setLoggingLevel('warning');
      await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
      await client.setLoggingLevel('info');
      await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
      await waitFor(() => seen.length >= 3, 'three log messages');
      // Everything the first (filtered) call sent would have come first.
      assert.deepEqual(seen, [
        { level: 'info', logger: 'test_tool_with_logging', data: 'Tool execution started' },
        { level: 'info', logger: 'test_tool_with_logging', data: 'Tool processing data' },
        { level: 'info', logger: 'test_tool_with_logging', data: 'Tool execution completed' },
      ]);
    } finally {
      client.removeNotificationHandler('notifications/message');
    }
  });

  it('forwards progress only to a caller that asked, strictly increasing', async () => {
    // The SDK's own onprogress is not used: it runs notification handlers a
    // microtask late, so reports that reach it in the same read as the
    // response (common over stdio) are dropped as "unknown token" even
    // though moat sent them first. A handler of our own sees every report.
    const token = 'e2e-progress-1';
    const progress = [];
    client.setNotificationHandler(ProgressNotificationSchema, (n) => progress.push(n.params));
    try {
      const res = await client.request(
        { method: 'tools/call', params: { name: 'test_tool_with_progress', arguments: {}, _meta: { progressToken: token } } },
        CallToolResultSchema,
      );
      assert.equal(text(res), 'Progress tool completed');
      await waitFor(() => progress.some((p) => p.progress === 100), 'the guest\'s last report');
    } finally {
      // Give the client back its own progress dispatch.
      client.setNotificationHandler(ProgressNotificationSchema, (n) => client._onprogress(n));
    }
    for (const p of progress) assert.equal(p.progressToken, token);
    // The host's "started" (0), then the guest's 50 and 100 of 100 (its own 0
    // is dropped: not larger than the last); later reports must increase.
    assert.deepEqual(
      progress.slice(0, 3).map((p) => [p.progress, p.total]),
      [[0, undefined], [50, 100], [100, 100]],
    );
    const values = progress.map((p) => p.progress);
    for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1], `not increasing: ${values}`);

    // Without a progress token nothing is sent (a stray report would reach
    // the client's onerror as a notification for an unknown token), and the
    // call still works.
    const stray = [];
    const prev = client.onerror;
    client.onerror = (err) => {
      if (/progress/i.test(err.message)) stray.push(err.message);
      prev?.(err);
    };
    try {
      const res2 = await client.callTool({ name: 'test_tool_with_progress', arguments: {} });
      assert.equal(text(res2), 'Progress tool completed');
      assert.deepEqual(stray, []);
    } finally {
      client.onerror = prev;
    }
  });
}

describe('Streamable HTTP', { skip: URL_ ? false : 'MOAT_E2E_URL is not set (run e2e/run.sh)' }, () => {
  const headers = MOAT_E2E_KEY ? { Authorization: `Bearer ${MOAT_E2E_KEY}` } : {};
  let transport;
  commonTests(async () => {
    const client = newClient();
    transport = new StreamableHTTPClientTransport(new URL(URL_), { requestInit: { headers } });
    await client.connect(transport);
    return client;
  });

  it('hands out a session id', () => {
    assert.match(transport.sessionId ?? '', /^[\x21-\x7e]+$/);
  });

  it('refuses a foreign Origin with 403 before any MCP work', async () => {
    const res = await fetch(URL_, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        origin: 'https://evil.example',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(res.status, 403);
  });

  it('refuses a missing or wrong API key with 401 and a Bearer challenge', { skip: MOAT_E2E_KEY ? false : 'MOAT_E2E_KEY is not set' }, async () => {
    const wrong = 'moat_' + 'A'.repeat(43);
    for (const authorization of [undefined, `Bearer ${wrong}`, `Basic ${Buffer.from(`x:${MOAT_E2E_KEY}`).toString('base64')}`]) {
      const h = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
      if (authorization) h.authorization = authorization;
      const res = await fetch(URL_, {
        method: 'POST',
        headers: h,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'moat-e2e', version: '1' } },
        }),
      });
      assert.equal(res.status, 401, `Authorization: ${authorization?.split(' ')[0] ?? '(none)'}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b/);
      const body = await res.text();
      assert.ok(!body.includes(MOAT_E2E_KEY), 'the 401 echoes the key');
    }
  });
});

describe('stdio', { skip: BIN ? false : 'MOAT_E2E_BIN is not set (run e2e/run.sh)' }, () => {
  let stderr = '';
  commonTests(async () => {
    const args = ['serve', '--stdio', '--config', CONFIG];
    if (MOAT_E2E_CACHE) args.push('--cache-dir', MOAT_E2E_CACHE);
    const transport = new StdioClientTransport({ command: BIN, args, stderr: 'pipe', cwd: ROOT });
    // moat logs to stderr; keep the tail for a failing test's message.
    transport.stderr?.on('data', (b) => {
      stderr = (stderr + b.toString()).slice(-8192);
    });
    const client = newClient();
    try {
      await client.connect(transport);
    } catch (err) {
      throw new Error(`moat serve --stdio did not start: ${err.message}\n${stderr}`);
    }
    return client;
  });
});
