// Issue 13 item 8 with the AWS SDK for JavaScript v3, whose model has the
// resource-policy operations and UpdateStreamRecordDistributionStrategy
// (Debian's botocore predates them): its own serializers and error parsing
// against a real sluiced over HTTP/2 and verified TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand,
  GetShardIteratorCommand, GetRecordsCommand, PutResourcePolicyCommand,
  GetResourcePolicyCommand, DeleteResourcePolicyCommand,
  UpdateStreamRecordDistributionStrategyCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttp2Handler } from '@smithy/node-http-handler';

const here = path.dirname(new URL(import.meta.url).pathname);
const bin = process.env.SLUICED || path.join(here, '..', '..', 'build', 'sluiced');
let dir, proc, client;

function readCreds(file) {
  const text = fs.readFileSync(file, 'utf8');
  const id = /aws_access_key_id\s*=\s*(\S+)/.exec(text)[1];
  const secret = /aws_secret_access_key\s*=\s*(\S+)/.exec(text)[1];
  return { accessKeyId: id, secretAccessKey: secret };
}

async function waitFor(file, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} did not appear (server log: ${dir}/server.log)`);
}

async function activeStream(name, input) {
  await client.send(new CreateStreamCommand({ StreamName: name, ...input }));
  for (let i = 0; i < 100; i++) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') return d.StreamDescriptionSummary;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} not ACTIVE`);
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-js-rp-'));
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  proc = spawn(bin, ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd'),
    '--segment-mib', '16', // preallocated: the 256 MiB default filled CI's disk
    '--create-delay-ms', '200', '--quota-mode', 'off'], { stdio: ['ignore', log, log] });
  const addr = await waitFor(path.join(dir, 'd', 'sluiced.addr'), 20000);
  const ca = fs.readFileSync(path.join(dir, 'd', 'tls', 'ca.pem'));
  client = new KinesisClient({
    endpoint: `https://${addr}`, region: 'us-east-1',
    credentials: readCreds(path.join(dir, 'd', 'credentials')),
    requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } }),
  });
});

after(async () => {
  client?.destroy();
  if (proc) {
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, 'sluiced exits 0 on SIGTERM');
  }
  fs.rmSync(dir, { recursive: true, force: true }); // kept when the exit failed
});

test('PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy round trip', async () => {
  const s = await activeStream('jsrp', { ShardCount: 1 });
  const arn = s.StreamARN;
  let g = await client.send(new GetResourcePolicyCommand({ ResourceARN: arn }));
  assert.equal(g.Policy, '{}');
  const text = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::000000000000:user/AKIAEXAMPLE' },
      Action: ['kinesis:GetRecords', 'kinesis:GetShardIterator'], Resource: arn }],
  });
  await client.send(new PutResourcePolicyCommand({ ResourceARN: arn, Policy: text }));
  g = await client.send(new GetResourcePolicyCommand({ ResourceARN: arn }));
  assert.equal(g.Policy, text);
  await client.send(new DeleteResourcePolicyCommand({ ResourceARN: arn }));
  g = await client.send(new GetResourcePolicyCommand({ ResourceARN: arn }));
  assert.equal(g.Policy, '{}');
  await assert.rejects(
    client.send(new PutResourcePolicyCommand({ ResourceARN: arn, Policy: '{"Statement": 5}' })),
    (e) => e.name === 'InvalidArgumentException' && e.message === 'Invalid policy document: no Statement.',
  );
});

test('UpdateStreamRecordDistributionStrategy AUTO spreads one partition key over the shards', async () => {
  const s = await activeStream('jsauto', { StreamModeDetails: { StreamMode: 'ON_DEMAND' } });
  assert.equal(s.RecordDistributionStrategy, 'USER_PARTITION_KEY');
  await client.send(new UpdateStreamRecordDistributionStrategyCommand({
    StreamARN: s.StreamARN, RecordDistributionStrategy: 'AUTO',
  }));
  const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'jsauto' }));
  assert.equal(d.StreamDescriptionSummary.RecordDistributionStrategy, 'AUTO');
  const recs = [];
  for (let i = 0; i < 400; i++) recs.push({ Data: Buffer.from(`r${i}`), PartitionKey: 'same' });
  const r = await client.send(new PutRecordsCommand({ StreamName: 'jsauto', Records: recs }));
  assert.equal(r.FailedRecordCount, 0);
  const per = {};
  for (const x of r.Records) per[x.ShardId] = (per[x.ShardId] || 0) + 1;
  assert.equal(Object.keys(per).length, 4, JSON.stringify(per));
  for (const [shard, n] of Object.entries(per)) {
    assert.ok(n >= 80 && n <= 120, JSON.stringify(per));
    const it = await client.send(new GetShardIteratorCommand({ StreamName: 'jsauto', ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }));
    const g = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
    assert.equal(g.Records.length, n);
    assert.ok(g.Records.every((x) => x.PartitionKey === 'same'));
  }
});
