// The AWS SDK for JavaScript v2 (npm aws-sdk) and KPL aggregation (npm
// aws-kinesis-agg) against a real sluiced. v2_client.cjs runs in a child
// process with only the environment the README gives Node users
// (NODE_EXTRA_CA_CERTS is read at process start; AWS_SDK_LOAD_CONFIG=1 and
// AWS_CONFIG_FILE for the region; AWS_SHARED_CREDENTIALS_FILE), so this also
// checks those instructions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const bin = process.env.SLUICED || path.join(here, '..', '..', 'build', 'sluiced');
let dir, proc, endpoint;

async function waitFor(file, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} did not appear (server log: ${dir}/server.log)`);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-js-v2-'));
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  proc = spawn(bin, ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd'),
    '--segment-mib', '16', // preallocated: the 256 MiB default filled CI's disk
    '--create-delay-ms', '200', '--quota-mode', 'off'], { stdio: ['ignore', log, log] });
  endpoint = `https://${await waitFor(path.join(dir, 'd', 'sluiced.addr'), 20000)}`;
  fs.writeFileSync(path.join(dir, 'config'), '[default]\nregion = us-east-1\n');
});

after(async () => {
  if (proc) {
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, `sluiced exited ${code}; log in ${dir}/server.log`);
  }
  fs.rmSync(dir, { recursive: true, force: true }); // kept when the exit failed
});

// Runs v2_client.cjs for stream; ca: give NODE_EXTRA_CA_CERTS.
function client(stream, ca = true) {
  const env = {
    PATH: process.env.PATH, HOME: dir, SLUICE_ENDPOINT: endpoint,
    AWS_SDK_LOAD_CONFIG: '1', AWS_CONFIG_FILE: path.join(dir, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'd', 'credentials'),
  };
  if (ca) env.NODE_EXTRA_CA_CERTS = path.join(dir, 'd', 'tls', 'ca.pem');
  return spawnSync(process.execPath, [path.join(here, 'v2_client.cjs'), stream],
    { env, encoding: 'utf8', timeout: 120000 });
}

test('JS SDK v2: PutRecords and GetRecords; KPL-aggregated records round-trip', () => {
  const stream = `jsv2-${process.pid}`;
  const r = client(stream);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.equal(res.region, 'us-east-1'); // read from AWS_CONFIG_FILE
  assert.ok(res.streams.includes(stream));
  assert.equal(res.put, 20);
  assert.equal(res.failedPut, 0);
  assert.equal(res.records.length, 20);
  const byKey = new Map(res.records.map((x) => [x.partitionKey, x.data]));
  for (let i = 0; i < 20; i++) assert.equal(byKey.get(`pk-${i}`), `js-v2 record ${i}`);

  // 300 user records went out as few Kinesis records (one here: 25 KB) and
  // came back whole, in order, with their own partition keys.
  assert.ok(res.aggPuts.length >= 1 && res.aggPuts.length < 300, JSON.stringify(res.aggPuts));
  assert.deepEqual(res.aggBack.map((u) => ({ partitionKey: u.partitionKey, data: u.data })),
    res.aggSent);
  assert.deepEqual(res.aggBack.map((u) => u.subSequenceNumber),
    res.aggSent.map((_, i) => i));
});

test('JS SDK v2: without NODE_EXTRA_CA_CERTS the certificate is refused', () => {
  const r = client(`jsv2-noca-${process.pid}`, false);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /certificate/);
});
