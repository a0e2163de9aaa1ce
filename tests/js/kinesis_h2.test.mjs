// The AWS SDK for JavaScript v3 against a real sluiced, with its default
// request handler (HTTP/2 over TLS, ALPN h2) and verified TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, ListStreamsCommand,
  PutRecordsCommand, PutRecordCommand, GetShardIteratorCommand, GetRecordsCommand,
  RegisterStreamConsumerCommand, DescribeStreamConsumerCommand, SubscribeToShardCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttp2Handler } from '@smithy/node-http-handler';

const here = path.dirname(new URL(import.meta.url).pathname);
const bin = process.env.SLUICED || path.join(here, '..', '..', 'build', 'sluiced');
let dir, proc, endpoint, client;

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

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-js-'));
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  proc = spawn(bin, ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd'),
    '--segment-mib', '16', // preallocated: the 256 MiB default filled CI's disk
    '--create-delay-ms', '200', '--quota-mode', 'off'], { stdio: ['ignore', log, log] });
  const addr = await waitFor(path.join(dir, 'd', 'sluiced.addr'), 20000);
  endpoint = `https://${addr}`;
  const ca = fs.readFileSync(path.join(dir, 'd', 'tls', 'ca.pem'));
  // The client's default handler is NodeHttp2Handler; it is built here
  // only to hand it the appliance's CA (verified TLS, as AWS_CA_BUNDLE does
  // for the CLI).
  client = new KinesisClient({
    endpoint, region: 'us-east-1',
    credentials: readCreds(path.join(dir, 'd', 'credentials')),
    requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } }),
  });
});

after(async () => {
  client?.destroy();
  if (proc) {
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, 'sluiced exits 0 on SIGTERM');
  }
  fs.rmSync(dir, { recursive: true, force: true }); // kept when the exit failed
});

test('the server negotiates HTTP/2 over verified TLS (ALPN h2)', async () => {
  const ca = fs.readFileSync(path.join(dir, 'd', 'tls', 'ca.pem'));
  const session = http2.connect(endpoint, { ca });
  const proto = await new Promise((resolve, reject) => {
    session.on('connect', () => resolve(session.alpnProtocol));
    session.on('error', reject);
  });
  session.close();
  assert.equal(proto, 'h2');
});

test('create, describe and list a stream with the default (HTTP/2) handler', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'js1', ShardCount: 2 }));
  let status;
  for (let i = 0; i < 50; i++) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'js1' }));
    status = d.StreamDescriptionSummary.StreamStatus;
    if (status === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 'ACTIVE');
  const l = await client.send(new ListStreamsCommand({}));
  assert.ok(l.StreamNames.includes('js1'));
});

test('PutRecords then GetRecords returns every record, in order, bytes identical', async () => {
  const sent = [];
  for (let i = 0; i < 200; i++) sent.push({ Data: Buffer.from(`rec-${i}-${'x'.repeat(i)}`), PartitionKey: 'k' });
  const r = await client.send(new PutRecordsCommand({ StreamName: 'js1', Records: sent }));
  assert.equal(r.FailedRecordCount, 0);
  const shard = r.Records[0].ShardId;
  assert.ok(r.Records.every((x) => x.ShardId === shard), 'one key, one shard');
  const one = await client.send(new PutRecordCommand({ StreamName: 'js1', PartitionKey: 'k', Data: Buffer.from('last') }));
  assert.equal(one.ShardId, shard);
  const it = await client.send(new GetShardIteratorCommand({ StreamName: 'js1', ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }));
  const got = [];
  let iter = it.ShardIterator;
  for (let n = 0; n < 20 && got.length < 201; n++) {
    const g = await client.send(new GetRecordsCommand({ ShardIterator: iter, Limit: 64 }));
    got.push(...g.Records);
    iter = g.NextShardIterator;
  }
  assert.equal(got.length, 201);
  for (let i = 0; i < 200; i++) assert.equal(Buffer.from(got[i].Data).toString(), sent[i].Data.toString());
  assert.equal(Buffer.from(got[200].Data).toString(), 'last');
  assert.equal(got[200].SequenceNumber, one.SequenceNumber);
});

test('concurrent requests on one HTTP/2 connection are all answered', async () => {
  const calls = [];
  for (let i = 0; i < 20; i++) {
    calls.push(client.send(new PutRecordCommand({ StreamName: 'js1', PartitionKey: `p${i}`, Data: Buffer.from(`c${i}`) })));
  }
  const res = await Promise.all(calls);
  assert.equal(res.length, 20);
  assert.ok(res.every((x) => /^\d{56}$/.test(x.SequenceNumber)));
});

test('errors keep Kinesis shape over HTTP/2', async () => {
  await assert.rejects(
    client.send(new DescribeStreamSummaryCommand({ StreamName: 'nope' })),
    (e) => e.name === 'ResourceNotFoundException' && /Stream nope under account \d{12} not found\./.test(e.message),
  );
});

test('SubscribeToShard (enhanced fan-out) pushes records written after it began', async () => {
  const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'js1' }));
  const streamArn = d.StreamDescriptionSummary.StreamARN;
  const reg = await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: 'fan1' }));
  const consumerArn = reg.Consumer.ConsumerARN;
  let status;
  for (let i = 0; i < 50; i++) {
    const c = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }));
    status = c.ConsumerDescription.ConsumerStatus;
    if (status === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 'ACTIVE');
  const shard = (await client.send(new PutRecordCommand({ StreamName: 'js1', PartitionKey: 'sub', Data: Buffer.from('before') }))).ShardId;
  const sub = await client.send(new SubscribeToShardCommand({
    ConsumerARN: consumerArn, ShardId: shard, StartingPosition: { Type: 'LATEST' },
  }));
  const want = [];
  for (let i = 0; i < 30; i++) want.push(`after-${i}`);
  const writer = (async () => {
    await new Promise((r) => setTimeout(r, 300));
    for (const w of want) {
      await client.send(new PutRecordCommand({ StreamName: 'js1', PartitionKey: 'sub', Data: Buffer.from(w) }));
    }
  })();
  const got = [];
  let events = 0;
  let cont;
  const deadline = Date.now() + 20000;
  for await (const ev of sub.EventStream) {
    if (ev.SubscribeToShardEvent) {
      events++;
      const e = ev.SubscribeToShardEvent;
      assert.match(e.ContinuationSequenceNumber, /^\d{56}$/);
      assert.ok(e.MillisBehindLatest >= 0);
      cont = e.ContinuationSequenceNumber;
      for (const r of e.Records) got.push(Buffer.from(r.Data).toString());
    }
    if (got.length >= want.length || Date.now() > deadline) break;
  }
  await writer;
  assert.ok(events >= 1);
  assert.deepEqual(got, want, 'only records written after LATEST, in order, exactly once');
  assert.ok(!got.includes('before'));
  assert.ok(cont);
  // A second subscription for the same consumer and shard right away is
  // refused, as Kinesis does (within 5 s of a subscription, or while one is
  // live): ResourceInUseException.
  await assert.rejects(
    client.send(new SubscribeToShardCommand({
      ConsumerARN: consumerArn, ShardId: shard,
      StartingPosition: { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: cont },
    })),
    (e) => e.name === 'ResourceInUseException' && e.message.includes(consumerArn),
  );
});

test('an 8 MiB record over HTTP/2 on a stream with MaxRecordSizeInKiB 10240', async () => {
  await client.send(new CreateStreamCommand({ StreamName: 'jsbig', ShardCount: 1,
    MaxRecordSizeInKiB: 10240 }));
  for (let i = 0; i < 50; i++) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'jsbig' }));
    if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const data = new Uint8Array(8 << 20);
  for (let i = 0; i < data.length; i += 4096) data[i] = (i >> 12) & 0xff;
  const put = await client.send(new PutRecordCommand({ StreamName: 'jsbig',
    PartitionKey: 'k', Data: data }));
  assert.match(put.SequenceNumber, /^\d{56}$/);
  const it = await client.send(new GetShardIteratorCommand({ StreamName: 'jsbig',
    ShardId: 'shardId-000000000000', ShardIteratorType: 'TRIM_HORIZON' }));
  const got = await client.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
  assert.equal(got.Records.length, 1);
  assert.equal(got.Records[0].SequenceNumber, put.SequenceNumber);
  assert.ok(Buffer.from(got.Records[0].Data).equals(Buffer.from(data)));
});
