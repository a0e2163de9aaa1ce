// Channels (CreateChannel, DescribeChannel, ListChannels, UpdateChannel,
// DeleteChannel) with the AWS SDK for JavaScript v3 - the only client here
// whose model knows them (botocore on Debian is older) - against a real
// sluiced over HTTP/2 and verified TLS: the lifecycle (CREATING -> ACTIVE,
// UPDATING -> ACTIVE, DELETING -> gone), what the description holds, the
// errors, and that channels survive a restart (meta.db).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, DeleteStreamCommand,
  CreateChannelCommand, DescribeChannelCommand, ListChannelsCommand, UpdateChannelCommand,
  DeleteChannelCommand,
} from '@aws-sdk/client-kinesis';
import { NodeHttp2Handler } from '@smithy/node-http-handler';

const here = path.dirname(new URL(import.meta.url).pathname);
const bin = process.env.SLUICED || path.join(here, '..', '..', 'build', 'sluiced');
// SLUICED_EXTRA_ARGS: more flags, split on spaces (e.g. "--metadata
// etcd=http://127.0.0.1:2379 --etcd-cluster js" to run this file with the
// etcd store).
const extraArgs = (process.env.SLUICED_EXTRA_ARGS || '').split(' ').filter((a) => a);
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

// Lifecycle delays long enough that the intermediate states are seen even
// on the ASan build (each call well under 1.5 s), short enough to wait out.
const DELAY_MS = 1500;

async function start() {
  const addrFile = path.join(dir, 'd', 'sluiced.addr');
  fs.rmSync(addrFile, { force: true });
  const log = fs.openSync(path.join(dir, 'server.log'), 'a');
  proc = spawn(bin, ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir, 'd'),
    '--segment-mib', '16', // preallocated: the 256 MiB default filled CI's disk
    '--create-delay-ms', String(DELAY_MS), '--delete-delay-ms', String(DELAY_MS),
    '--quota-mode', 'off', ...extraArgs], { stdio: ['ignore', log, log] });
  const addr = await waitFor(addrFile, 20000);
  const ca = fs.readFileSync(path.join(dir, 'd', 'tls', 'ca.pem'));
  client = new KinesisClient({
    endpoint: `https://${addr}`, region: 'us-east-1',
    credentials: readCreds(path.join(dir, 'd', 'credentials')),
    requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } }),
  });
}

async function stop() {
  client?.destroy();
  if (proc) {
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0, 'sluiced exits 0 on SIGTERM');
    proc = null;
  }
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-channels-'));
  await start();
});

after(stop);
// only after a clean stop (a failing one keeps the dir and its log)
after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function until(fn, what, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function activeStream(name, extra = {}) {
  await client.send(new CreateStreamCommand({ StreamName: name, ...extra }));
  return until(async () => {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    const s = d.StreamDescriptionSummary;
    return s.StreamStatus === 'ACTIVE' ? s : null;
  }, `stream ${name} ACTIVE`);
}

const onDemand = { StreamModeDetails: { StreamMode: 'ON_DEMAND' } };
const ROLE = 'arn:aws:iam::123456789012:role/channel-role';

function channelInput(name, streamARN, over = {}) {
  return {
    ChannelName: name,
    ServiceExecutionRoleARN: ROLE,
    StreamConfigurationList: [{ StreamARN: streamARN,
      RecordConfiguration: { RecordFormatType: 'JSON' } }],
    S3DestinationConfiguration: {
      StorageConfiguration: { BucketARN: 'arn:aws:s3:::bucket-a',
        ExpectedBucketOwner: '123456789012', CompressionType: 'GZIP' },
    },
    ...over,
  };
}

async function rejects(cmd, name, re) {
  await assert.rejects(client.send(cmd), (e) => {
    assert.equal(e.name, name, `${e.name}: ${e.message}`);
    if (re) assert.match(e.message, re);
    return true;
  });
}

async function statusOf(arn) {
  const d = await client.send(new DescribeChannelCommand({ ChannelARN: arn }));
  return d.ChannelDescription.ChannelStatus;
}

let streamA, channelArn;

test('CreateChannel answers CREATING with the model defaults, then ACTIVE', async () => {
  streamA = await activeStream('chsrc', onDemand);
  const r = await client.send(new CreateChannelCommand(channelInput('ch1', streamA.StreamARN)));
  const c = r.ChannelDescription;
  assert.equal(c.ChannelName, 'ch1');
  assert.equal(c.ChannelStatus, 'CREATING');
  assert.match(c.ChannelId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(c.ChannelARN, `arn:aws:kinesis:us-east-1:${streamA.StreamARN.split(':')[4]}:channel/${c.ChannelId}`);
  assert.ok(c.ChannelCreationTimestamp instanceof Date);
  assert.equal(c.ServiceExecutionRoleARN, ROLE);
  assert.equal(c.StreamConfigurationList.length, 1);
  assert.equal(c.StreamConfigurationList[0].StreamARN, streamA.StreamARN);
  assert.equal(c.StreamConfigurationList[0].StreamCreationTimestamp.getTime(),
    streamA.StreamCreationTimestamp.getTime());
  assert.deepEqual(c.StreamConfigurationList[0].RecordConfiguration, { RecordFormatType: 'JSON' });
  const s3 = c.S3DestinationConfiguration;
  assert.equal(s3.DataFreshnessInSeconds, 300);
  assert.deepEqual(s3.StorageConfiguration, {
    BucketARN: 'arn:aws:s3:::bucket-a', ExpectedBucketOwner: '123456789012',
    CompressionType: 'GZIP', StorageClass: 'STANDARD',
    OutputKeyTemplate: 'kinesis-channel/!{channel-name}/!{channel-id}/!{yyyy}/!{MM}/!{dd}/!{HH}/'
      + '!{channel-name}-!{channel-id}-!{yyyy}-!{MM}-!{dd}-!{HH}-!{mm}!{extension}',
  });
  assert.deepEqual(s3.DeadLetterQueueS3Configuration, {
    BucketARN: 'arn:aws:s3:::bucket-a', ExpectedBucketOwner: '123456789012',
    ErrorOutputPrefix: `kinesis-channel/errors/ch1/${c.ChannelId}/`,
  });
  assert.deepEqual(c.LoggingConfiguration, { CloudWatchLogs: { Enabled: false } });
  assert.equal(c.EncryptionConfiguration, undefined);
  assert.equal(c.S3TablesDestinationConfiguration, undefined);
  channelArn = c.ChannelARN;
  await until(async () => (await statusOf(channelArn)) === 'ACTIVE', 'ch1 ACTIVE');
});

let streamB;

test('what the caller gives is kept: template, class, DLQ, encryption, logging, freshness', async () => {
  streamB = await activeStream('chsrc2', onDemand);
  const r = await client.send(new CreateChannelCommand(channelInput('ch2', streamB.StreamARN, {
    S3DestinationConfiguration: {
      DataFreshnessInSeconds: 900,
      DeadLetterQueueS3Configuration: { BucketARN: 'arn:aws:s3:::dlq',
        ExpectedBucketOwner: '210987654321', ErrorOutputPrefix: 'bad/' },
      StorageConfiguration: { BucketARN: 'arn:aws:s3:::bucket-b',
        ExpectedBucketOwner: '123456789012', CompressionType: 'ZSTD',
        StorageClass: 'GLACIER_IR', OutputKeyTemplate: 'x/!{yyyy}/!{channel-id}!{extension}' },
    },
    StreamConfigurationList: [{ StreamARN: streamB.StreamARN,
      RecordConfiguration: { RecordFormatType: 'BYTE_ARRAY' } }],
    EncryptionConfiguration: { EncryptionType: 'KMS', KeyId: 'alias/mine' },
    LoggingConfiguration: { CloudWatchLogs: { Enabled: true, LogGroupName: 'g',
      LogStreamName: 's' } },
  })));
  const d = (await client.send(new DescribeChannelCommand({
    ChannelARN: r.ChannelDescription.ChannelARN }))).ChannelDescription;
  assert.equal(d.S3DestinationConfiguration.DataFreshnessInSeconds, 900);
  assert.deepEqual(d.S3DestinationConfiguration.StorageConfiguration, {
    BucketARN: 'arn:aws:s3:::bucket-b', ExpectedBucketOwner: '123456789012',
    CompressionType: 'ZSTD', StorageClass: 'GLACIER_IR',
    OutputKeyTemplate: 'x/!{yyyy}/!{channel-id}!{extension}' });
  assert.deepEqual(d.S3DestinationConfiguration.DeadLetterQueueS3Configuration, {
    BucketARN: 'arn:aws:s3:::dlq', ExpectedBucketOwner: '210987654321',
    ErrorOutputPrefix: 'bad/' });
  assert.deepEqual(d.StreamConfigurationList[0].RecordConfiguration,
    { RecordFormatType: 'BYTE_ARRAY' });
  assert.deepEqual(d.EncryptionConfiguration, { EncryptionType: 'KMS', KeyId: 'alias/mine' });
  assert.deepEqual(d.LoggingConfiguration,
    { CloudWatchLogs: { Enabled: true, LogGroupName: 'g', LogStreamName: 's' } });
});

test('CreateChannel errors as Kinesis answers them', async () => {
  await rejects(new CreateChannelCommand(channelInput('ch1', streamA.StreamARN)),
    'ResourceInUseException', /Channel ch1 already exists/);
  // one S3 channel per stream, as Kinesis at launch
  await rejects(new CreateChannelCommand(channelInput('ch3', streamA.StreamARN)),
    'LimitExceededException', /Stream chsrc under account \d{12} already has an S3 channel/);
  const acct = streamA.StreamARN.split(':')[4];
  await rejects(new CreateChannelCommand(channelInput('chx',
    `arn:aws:kinesis:us-east-1:${acct}:stream/nosuch`)),
  'ResourceNotFoundException', /Stream nosuch under account \d{12} not found/);
  const prov = await activeStream('chprov', { ShardCount: 1 });
  await rejects(new CreateChannelCommand(channelInput('chx', prov.StreamARN)),
    'ValidationException', /ON_DEMAND/);
  await rejects(new CreateChannelCommand(channelInput('chx', streamA.StreamARN, {
    S3DestinationConfiguration: undefined,
    S3TablesDestinationConfiguration: { S3TablesConfigurationList: [{
      TableBucketARN: 'arn:aws:s3tables:us-east-1:123456789012:bucket/t', Namespace: 'n',
      TableName: 't', CompressionType: 'ZSTD' }] },
  })), 'InvalidArgumentException', /S3TablesDestinationConfiguration is not supported/);
  await rejects(new CreateChannelCommand(channelInput('chx', streamA.StreamARN, {
    S3DestinationConfiguration: undefined })), 'InvalidArgumentException',
  /Either S3DestinationConfiguration or S3TablesDestinationConfiguration must be specified/);
  await rejects(new CreateChannelCommand(channelInput('chx', streamA.StreamARN, {
    StreamConfigurationList: [{ StreamARN: streamA.StreamARN,
      RecordConfiguration: { RecordFormatType: 'GSR_JSON' } }] })),
  'InvalidArgumentException', /GSR_JSON is supported only for S3 Tables/);
  const bad = channelInput('chx', streamA.StreamARN);
  bad.S3DestinationConfiguration.DataFreshnessInSeconds = 60;
  await rejects(new CreateChannelCommand(bad), 'ValidationException',
    /Value '60' at 's3DestinationConfiguration.dataFreshnessInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 300/);
  await rejects(new CreateChannelCommand(channelInput('bad name', streamA.StreamARN)),
    'ValidationException', /at 'channelName' failed to satisfy constraint: Member must satisfy regular expression pattern/);
  await rejects(new CreateChannelCommand(channelInput('chx', streamA.StreamARN,
    { Tags: { k: 'v' } })), 'InvalidArgumentException', /Tags on channels are not supported/);
  const two = channelInput('chx', streamA.StreamARN);
  two.StreamConfigurationList.push(two.StreamConfigurationList[0]);
  await rejects(new CreateChannelCommand(two), 'InvalidArgumentException',
    /must contain exactly one stream configuration/);
  await rejects(new CreateChannelCommand(channelInput('chx', streamA.StreamARN, {
    S3TablesDestinationConfiguration: { S3TablesConfigurationList: [] } })),
  'InvalidArgumentException', /not both/);
  await rejects(new CreateChannelCommand(channelInput('chx', streamA.StreamARN, {
    ServiceExecutionRoleARN: undefined })), 'ValidationException',
  /Value null at 'serviceExecutionRoleARN' failed to satisfy constraint: Member must not be null/);
  // 2000 code points (within the 2048 allowed) but 4000 bytes: refused
  // whole, never stored cut
  const wide = channelInput('chx', streamA.StreamARN);
  wide.S3DestinationConfiguration.StorageConfiguration.BucketARN = 'arn:aws:s3:::' + '\u00e9'.repeat(2000);
  await rejects(new CreateChannelCommand(wide), 'InvalidArgumentException',
    /^StorageConfiguration.BucketARN is too long\.$/);
  const noCompression = channelInput('chx', streamA.StreamARN);
  noCompression.S3DestinationConfiguration.StorageConfiguration.CompressionType = 'LZ4';
  await rejects(new CreateChannelCommand(noCompression), 'ValidationException',
    /Value 'LZ4' at 's3DestinationConfiguration.storageConfiguration.compressionType' failed to satisfy constraint: Member must satisfy enum value set: \[GZIP, NONE, ZSTD\]/);
});

test('DescribeChannel / DeleteChannel / UpdateChannel of no such channel', async () => {
  await rejects(new DescribeChannelCommand({ ChannelARN: 'arn:aws:kinesis:us-east-1:123456789012:channel/nope' }),
    'ResourceNotFoundException', /Channel .*nope under account \d{12} not found/);
  await rejects(new DeleteChannelCommand({ ChannelARN: 'arn:aws:kinesis:us-east-1:123456789012:channel/nope' }),
    'ResourceNotFoundException');
  await rejects(new DescribeChannelCommand({ ChannelARN: 'arn:aws:kinesis:us-east-1:1:channel/x' }),
    'ValidationException', /at 'channelARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws\.\*:kinesis:\.\*:\\d\{12\}:channel\/\\S\+/);
});

test('ListChannels lists, filters by stream and pages', async () => {
  const all = await client.send(new ListChannelsCommand({}));
  const names = all.ChannelSummaries.map((s) => s.ChannelName);
  assert.deepEqual(names, ['ch1', 'ch2']);
  const s = all.ChannelSummaries[0];
  assert.equal(s.ChannelARN, channelArn);
  assert.equal(s.ChannelStatus, 'ACTIVE');
  assert.equal(s.ChannelDestinationType, 'S3');
  assert.deepEqual(s.Streams.map((x) => x.StreamARN), [streamA.StreamARN]);
  assert.equal(all.NextToken, undefined);
  const p1 = await client.send(new ListChannelsCommand({ MaxResults: 1 }));
  assert.deepEqual(p1.ChannelSummaries.map((x) => x.ChannelName), ['ch1']);
  assert.ok(p1.NextToken);
  const p2 = await client.send(new ListChannelsCommand({ NextToken: p1.NextToken }));
  assert.deepEqual(p2.ChannelSummaries.map((x) => x.ChannelName), ['ch2']);
  const other = await activeStream('chother', onDemand);
  const none = await client.send(new ListChannelsCommand({
    StreamFilter: [{ StreamARN: other.StreamARN }] }));
  assert.deepEqual(none.ChannelSummaries, []);
  const some = await client.send(new ListChannelsCommand({
    StreamFilter: [{ StreamARN: streamB.StreamARN }] }));
  assert.deepEqual(some.ChannelSummaries.map((x) => x.ChannelName), ['ch2']);
  const both = await client.send(new ListChannelsCommand({
    StreamFilter: [{ StreamARN: streamB.StreamARN }, { StreamARN: streamA.StreamARN,
      StreamCreationTimestamp: streamA.StreamCreationTimestamp }] }));
  assert.equal(both.ChannelSummaries.length, 2);
  const stale = await client.send(new ListChannelsCommand({
    StreamFilter: [{ StreamARN: streamA.StreamARN, StreamCreationTimestamp: new Date(0) }] }));
  assert.deepEqual(stale.ChannelSummaries, []);
  await rejects(new ListChannelsCommand({ NextToken: 'zz' }), 'InvalidArgumentException',
    /Invalid NextToken/);
});

test('UpdateChannel: UPDATING then ACTIVE with the new freshness; not while UPDATING', async () => {
  await rejects(new UpdateChannelCommand({ ChannelARN: channelArn,
    S3DestinationConfiguration: { DataFreshnessInSeconds: 1000 } }), 'ValidationException',
  /Member must have value less than or equal to 900/);
  const r = await client.send(new UpdateChannelCommand({ ChannelARN: channelArn,
    S3DestinationConfiguration: { DataFreshnessInSeconds: 600 } }));
  assert.equal(r.ChannelDescription.ChannelStatus, 'UPDATING');
  assert.equal(r.ChannelDescription.S3DestinationConfiguration.DataFreshnessInSeconds, 600);
  await rejects(new UpdateChannelCommand({ ChannelARN: channelArn,
    S3DestinationConfiguration: { DataFreshnessInSeconds: 700 } }),
  'ResourceInUseException', /not ACTIVE, instead in state UPDATING/);
  await until(async () => (await statusOf(channelArn)) === 'ACTIVE', 'ch1 ACTIVE again');
  await rejects(new UpdateChannelCommand({ ChannelARN: channelArn,
    S3TablesDestinationConfiguration: { DataFreshnessInSeconds: 600 } }),
  'InvalidArgumentException', /update it with S3DestinationConfiguration/);
});

let narrow;

test('channels survive a restart (meta.db), deadlines included', async () => {
  await stop();
  // A key whose access policy allows DescribeChannel on channel ARNs only
  // (for the next test), added while the server is down.
  const acct = streamA.StreamARN.split(':')[4];
  narrow = { accessKeyId: 'AKIACHANNELSNARROW01', secretAccessKey: 'n'.repeat(40) };
  const pol = { Version: '2012-10-17', Statement: [{ Effect: 'Allow',
    Action: 'kinesis:DescribeChannel', Resource: `arn:aws:kinesis:us-east-1:${acct}:channel/*` }] };
  fs.writeFileSync(path.join(dir, 'd', 'policy-narrow.json'), JSON.stringify(pol));
  fs.appendFileSync(path.join(dir, 'd', 'credentials'), `\n[narrow]\naws_access_key_id = ${
    narrow.accessKeyId}\naws_secret_access_key = ${narrow.secretAccessKey}\n`
    + 'sluice_policy = policy-narrow.json\n');
  await start();
  const d = (await client.send(new DescribeChannelCommand({ ChannelARN: channelArn })))
    .ChannelDescription;
  assert.equal(d.ChannelStatus, 'ACTIVE');
  assert.equal(d.S3DestinationConfiguration.DataFreshnessInSeconds, 600);
});

test('access policies see a channel operation on the channel ARN', async () => {
  const ca = fs.readFileSync(path.join(dir, 'd', 'tls', 'ca.pem'));
  const addr = fs.readFileSync(path.join(dir, 'd', 'sluiced.addr'), 'utf8').trim();
  const k = new KinesisClient({ endpoint: `https://${addr}`, region: 'us-east-1',
    credentials: narrow,
    requestHandler: new NodeHttp2Handler({ nodeHttp2ConnectOptions: { ca } }) });
  try {
    const d = await k.send(new DescribeChannelCommand({ ChannelARN: channelArn }));
    assert.equal(d.ChannelDescription.ChannelARN, channelArn);
    await assert.rejects(k.send(new UpdateChannelCommand({ ChannelARN: channelArn,
      S3DestinationConfiguration: { DataFreshnessInSeconds: 300 } })), (e) => {
      assert.equal(e.name, 'AccessDeniedException');
      assert.match(e.message, new RegExp(`perform: kinesis:UpdateChannel on resource: ${
        channelArn} because no identity-based policy allows the action`));
      return true;
    });
    await assert.rejects(k.send(new ListChannelsCommand({})), (e) => {
      assert.equal(e.name, 'AccessDeniedException');
      assert.match(e.message, /kinesis:ListChannels on resource: \*/);
      return true;
    });
  } finally {
    k.destroy();
  }
});

test('a stream with channels cannot be deleted; DeleteChannel goes DELETING then gone', async () => {
  await rejects(new DeleteStreamCommand({ StreamName: 'chsrc' }), 'ResourceInUseException',
    /there are channels associated with this data stream/);
  const all = await client.send(new ListChannelsCommand({}));
  for (const s of all.ChannelSummaries) {
    await client.send(new DeleteChannelCommand({ ChannelARN: s.ChannelARN }));
  }
  assert.equal(await statusOf(channelArn), 'DELETING');
  await until(async () => {
    try { await statusOf(channelArn); return false; } catch (e) {
      assert.equal(e.name, 'ResourceNotFoundException');
      return true;
    }
  }, 'ch1 gone');
  await until(async () => (await client.send(new ListChannelsCommand({})))
    .ChannelSummaries.length === 0, 'no channels');
  await client.send(new DeleteStreamCommand({ StreamName: 'chsrc' }));
});
