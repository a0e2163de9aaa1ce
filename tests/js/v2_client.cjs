// The AWS SDK for JavaScript v2 (npm aws-sdk) as a Node user runs it against
// sluice, configured only by the environment the README gives for it:
// NODE_EXTRA_CA_CERTS (the JS SDKs ignore AWS_CA_BUNDLE), AWS_SDK_LOAD_CONFIG=1
// with AWS_CONFIG_FILE (region) and AWS_SHARED_CREDENTIALS_FILE; the endpoint
// comes from SLUICE_ENDPOINT. Run by kinesis_v2.test.mjs, it prints one JSON
// object: a PutRecords/GetRecords round trip, and a KPL aggregation round
// trip (npm aws-kinesis-agg): many user records aggregated into one Kinesis
// record, put, read back and deaggregated.
'use strict';
const AWS = require('aws-sdk');
const agg = require('aws-kinesis-agg');

const stream = process.argv[2];
const kinesis = new AWS.Kinesis({ endpoint: process.env.SLUICE_ENDPOINT, maxRetries: 0 });

async function readShards() {
  const out = [];
  const shards = (await kinesis.listShards({ StreamName: stream }).promise()).Shards;
  for (const sh of shards) {
    const it = (await kinesis.getShardIterator({ StreamName: stream, ShardId: sh.ShardId,
      ShardIteratorType: 'TRIM_HORIZON' }).promise()).ShardIterator;
    const got = await kinesis.getRecords({ ShardIterator: it }).promise();
    for (const r of got.Records) out.push({ shard: sh.ShardId, r });
  }
  return out;
}

// Aggregates users into one or more Kinesis records (each at most 1 MiB,
// the library's limit) and puts each with PutRecord.
function putAggregated(users) {
  return new Promise((resolve, reject) => {
    const puts = [];
    agg.aggregate(users, (encoded, done) => {
      kinesis.putRecord({ StreamName: stream, PartitionKey: encoded.partitionKey,
        ExplicitHashKey: encoded.explicitHashKey, Data: encoded.data }).promise()
        .then((r) => { puts.push({ shardId: r.ShardId, bytes: encoded.data.length }); done(); },
          (e) => done(e));
    }, () => resolve(puts), (err) => reject(err));
  });
}

function deaggregate(record) {
  return new Promise((resolve, reject) => {
    agg.deaggregateSync(record, true, (err, users) => (err ? reject(err) : resolve(users)));
  });
}

async function main() {
  const res = { region: kinesis.config.region };
  await kinesis.createStream({ StreamName: stream, ShardCount: 2 }).promise();
  await kinesis.waitFor('streamExists', { StreamName: stream,
    $waiter: { delay: 0.1, maxAttempts: 600 } }).promise();

  const n = 20;
  const put = await kinesis.putRecords({ StreamName: stream, Records: Array.from(
    { length: n }, (_, i) => ({ PartitionKey: `pk-${i}`, Data: `js-v2 record ${i}` })) })
    .promise();
  res.put = put.Records.length;
  res.failedPut = put.FailedRecordCount;
  const plain = await readShards();
  res.records = plain.map(({ shard, r }) => ({ shard, partitionKey: r.PartitionKey,
    data: r.Data.toString(), sequenceNumber: r.SequenceNumber }));

  // KPL: 300 user records with their own partition keys, aggregated.
  const users = Array.from({ length: 300 }, (_, i) => ({
    partitionKey: `user-${i % 17}`, data: Buffer.from(`kpl user record ${i} `.repeat(4)) }));
  res.aggPuts = await putAggregated(users);
  const after = await readShards();
  const seen = new Set(plain.map(({ r }) => r.SequenceNumber));
  const back = [];
  for (const { r } of after) {
    if (seen.has(r.SequenceNumber)) continue;
    for (const u of await deaggregate({ data: r.Data.toString('base64'),
      partitionKey: r.PartitionKey, sequenceNumber: r.SequenceNumber,
      approximateArrivalTimestamp: r.ApproximateArrivalTimestamp })) {
      back.push({ partitionKey: u.partitionKey, data: Buffer.from(u.data, 'base64').toString(),
        subSequenceNumber: u.subSequenceNumber });
    }
  }
  res.aggSent = users.map((u) => ({ partitionKey: u.partitionKey, data: u.data.toString() }));
  res.aggBack = back;
  res.streams = (await kinesis.listStreams({}).promise()).StreamNames;
  process.stdout.write(JSON.stringify(res) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.code || e.name}: ${e.message}\n`);
  process.exit(1);
});
