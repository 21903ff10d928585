// compare.mjs judges one run of the MCP conformance suite against
// e2e/expected-failures-ERA.txt. run.sh calls it, once per protocol era, after
// `conformance server --requirements ERA -o RESULTS`:
//
//   node compare.mjs RESULTS SCENARIOS_FILE EXPECTED_FILE
//
// SCENARIOS_FILE lists the scenarios that were run, one a line (from
// `conformance list --server --requirements ERA`, and the folders the run
// left). A scenario fails when any of its checks is FAILURE or WARNING (the
// suite's own baseline rule), or when it left no checks.json. The exit code is 1 when a scenario fails that is not listed
// as expected, when a listed scenario passes (the list must stay honest),
// or when the list names a scenario the suite does not have.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const [resultsDir, scenariosFile, expectedFile] = process.argv.slice(2);
if (!expectedFile) {
  console.error('usage: node compare.mjs RESULTS_DIR SCENARIOS_FILE EXPECTED_FILE');
  process.exit(2);
}

const scenarios = readFileSync(scenariosFile, 'utf8').split('\n').map((s) => s.trim()).filter(Boolean);

// expected-failures-ERA.txt: "name  # reason", comments and blank lines ignored.
const expected = new Map();
const problems = [];
for (const [i, raw] of readFileSync(expectedFile, 'utf8').split('\n').entries()) {
  const hash = raw.indexOf('#');
  const name = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
  if (!name) continue;
  const reason = hash >= 0 ? raw.slice(hash + 1).trim() : '';
  if (!reason) problems.push(`${expectedFile}:${i + 1}: ${name}: no "# reason"`);
  if (expected.has(name)) problems.push(`${expectedFile}:${i + 1}: ${name}: listed twice`);
  if (!scenarios.includes(name)) problems.push(`${expectedFile}:${i + 1}: ${name}: the suite has no such server scenario`);
  expected.set(name, reason);
}

const dirs = readdirSync(resultsDir);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const rows = [];
let asExpected = 0;
for (const name of scenarios) {
  // The suite names each folder server-NAME-<ISO time with : and . as ->.
  const re = new RegExp(`^server-${escape(name)}-\\d{4}-\\d\\d-\\d\\dT`);
  const dir = dirs.find((d) => re.test(d));
  let checks = null;
  if (dir) {
    try {
      checks = JSON.parse(readFileSync(join(resultsDir, dir, 'checks.json'), 'utf8'));
    } catch {
      checks = null;
    }
  }
  let failed;
  let why = '';
  if (!Array.isArray(checks)) {
    failed = true;
    why = 'no checks.json (the scenario did not run to the end)';
  } else {
    const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
    failed = bad.length > 0;
    why = bad.map((c) => `${c.status} ${c.name}: ${c.errorMessage ?? c.description}`).join('; ');
  }
  const isExpected = expected.has(name);
  let verdict;
  if (failed && isExpected) verdict = 'expected failure';
  else if (failed) verdict = 'UNEXPECTED FAILURE';
  else if (isExpected) verdict = 'UNEXPECTED PASS (remove it from the expected-failures list)';
  else verdict = 'pass';
  if (verdict === 'pass' || verdict === 'expected failure') asExpected++;
  rows.push({ name, verdict, why });
}

const width = Math.max(...rows.map((r) => r.name.length));
for (const r of rows) {
  const line = `  ${r.name.padEnd(width)}  ${r.verdict}`;
  console.log(r.verdict.startsWith('UNEXPECTED FAILURE') ? `${line}\n      ${r.why.slice(0, 600)}` : line);
}
for (const p of problems) console.log(`  ${p}`);

const pass = rows.filter((r) => r.verdict === 'pass').length;
const xfail = rows.filter((r) => r.verdict === 'expected failure').length;
const wrong = rows.length - asExpected;
console.log(`conformance scenarios: ${pass} pass, ${xfail} expected failures, ${wrong} not as expected, ${problems.length} list problems`);
process.exit(wrong > 0 || problems.length > 0 ? 1 : 0);
