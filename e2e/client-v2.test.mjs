// client-v2.test.mjs drives `moat serve` with the official TypeScript MCP
// client v2 (@modelcontextprotocol/client), pinned to protocol 2026-07-28
// (versionNegotiation { pin }): no initialize, no session; each request
// carries its version and client info in _meta. Over Streamable HTTP with
// an API key against the server e2e/run.sh started, and over stdio against
// `moat serve --stdio` spawned here. The v1 client tests (client.test.mjs)
// cover the 2025-11-25 era.
//
// run.sh sets MOAT_E2E_URL, MOAT_E2E_BIN, MOAT_E2E_CONFIG, MOAT_E2E_CACHE
// and MOAT_E2E_KEY, as for client.test.mjs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client, StreamableHTTPClientTransport, ProtocolError } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { MOAT_E2E_URL: URL_, MOAT_E2E_BIN: BIN, MOAT_E2E_CONFIG, MOAT_E2E_CACHE, MOAT_E2E_KEY } = process.env;
const CONFIG = MOAT_E2E_CONFIG ?? join(ROOT, 'testdata', 'conformance', 'moat.toml');
const ERA = '2026-07-28';

function newClient() {
  return new Client({ name: 'moat-e2e-v2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: ERA } } });
}

function text(result) {
  assert.equal(result.content.length, 1, `want one content item, got ${JSON.stringify(result.content)}`);
  assert.equal(result.content[0].type, 'text');
  return result.content[0].text;
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

  it('speaks 2026-07-28 with moat', () => {
    assert.equal(client.getNegotiatedProtocolVersion(), ERA);
    assert.equal(client.getServerVersion()?.name, 'moat');
    assert.ok(client.getServerCapabilities()?.tools, 'tools capability');
  });

  it('lists the tools, privately cacheable and in a fixed order', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.deepEqual(names, [...names].sort(), 'tools/list is sorted by name');
    for (const want of ['e2e_echo', 'read_file', 'test_custom_headers', 'test_simple_text']) assert.ok(names.includes(want), want);
    const headers = tools.find((t) => t.name === 'test_custom_headers');
    assert.equal(headers.inputSchema.properties.region['x-mcp-header'], 'Region');
  });

  it('a tool sees argv[0], its arguments and only its manifest env', async () => {
    const args = { message: 'héllo, "world" \u2603', count: 3 };
    const res = await client.callTool({ name: 'e2e_echo', arguments: args });
    assert.notEqual(res.isError, true);
    assert.deepEqual(JSON.parse(text(res)), { argv0: 'e2e_echo', args, env: ['E2E_GREETING=hello from the manifest'] });
  });

  it('a parameter marked x-mcp-header reaches the tool (the client mirrors it in Mcp-Param-Region)', async () => {
    const res = await client.callTool({ name: 'test_custom_headers', arguments: { region: 'eu-west-1' } });
    assert.notEqual(res.isError, true);
    assert.deepEqual(JSON.parse(text(res)).args, { region: 'eu-west-1' });
  });

  it('returns text content exactly, and a failing tool as isError', async () => {
    assert.deepEqual((await client.callTool({ name: 'test_simple_text', arguments: {} })).content, [
      { type: 'text', text: 'This is a simple text response for testing.' },
    ]);
    const res = await client.callTool({ name: 'test_error_handling', arguments: {} });
    assert.equal(res.isError, true);
    assert.deepEqual(res.content, [{ type: 'text', text: 'This tool intentionally returns an error for testing' }]);
  });

  it('arguments that break the input schema are a tool error naming the field', async () => {
    const res = await client.callTool({ name: 'e2e_echo', arguments: { message: 'x', count: 11 } });
    assert.equal(res.isError, true);
    assert.match(text(res), /count/);
  });

  it('an unknown tool is a protocol error', async () => {
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), (err) => {
      assert.ok(err instanceof ProtocolError, String(err));
      assert.match(err.message, /no_such_tool/);
      return true;
    });
  });
}

describe(`Streamable HTTP, ${ERA}`, { skip: URL_ ? false : 'MOAT_E2E_URL is not set (run e2e/run.sh)' }, () => {
  const headers = MOAT_E2E_KEY ? { Authorization: `Bearer ${MOAT_E2E_KEY}` } : {};
  let client;
  let transport;
  commonTests(async () => {
    client = newClient();
    transport = new StreamableHTTPClientTransport(new URL(URL_), { requestInit: { headers } });
    await client.connect(transport);
    return client;
  });

  it('has no session', () => {
    assert.equal(transport.sessionId, undefined);
  });

  it('opens a subscriptions/listen stream for tools list_changed, and closes it', async () => {
    const sub = await client.listen({ toolsListChanged: true });
    assert.equal(sub.honoredFilter.toolsListChanged, true);
    await sub.close();
    assert.equal(await sub.closed, 'local');
  });

  it('refuses a missing or wrong API key with 401', { skip: MOAT_E2E_KEY ? false : 'MOAT_E2E_KEY is not set' }, async () => {
    for (const h of [{}, { Authorization: `Bearer moat_${'A'.repeat(43)}` }]) {
      const c = newClient();
      await assert.rejects(c.connect(new StreamableHTTPClientTransport(new URL(URL_), { requestInit: { headers: h } })), (err) => {
        assert.match(String(err), /401|nauthorized/);
        return true;
      });
    }
  });
});

describe(`stdio, ${ERA}`, { skip: BIN ? false : 'MOAT_E2E_BIN is not set (run e2e/run.sh)' }, () => {
  let stderr = '';
  commonTests(async () => {
    const args = ['serve', '--stdio', '--config', CONFIG];
    if (MOAT_E2E_CACHE) args.push('--cache-dir', MOAT_E2E_CACHE);
    const transport = new StdioClientTransport({ command: BIN, args, stderr: 'pipe', cwd: ROOT });
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
