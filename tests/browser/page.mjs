// SPDX-License-Identifier: Apache-2.0
// The page tests/e2e/test_browser.py loads in headless Chromium: the browser
// build of @aws-sdk/client-kinesis (bundled by esbuild) calls sluice as a
// web app would, cross-origin (so with CORS preflights), and writes what it
// got into the DOM (#out) for the test to read with --dump-dom.
import { KinesisClient, ListStreamsCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';

const cfg = JSON.parse(document.getElementById('cfg').textContent);
const out = document.getElementById('out');

async function run() {
  const k = new KinesisClient({
    endpoint: cfg.endpoint,
    region: cfg.region,
    credentials: { accessKeyId: cfg.keyId, secretAccessKey: cfg.secret },
    maxAttempts: 1,
  });
  const ls = await k.send(new ListStreamsCommand({}));
  const put = await k.send(new PutRecordCommand({
    StreamName: cfg.stream,
    PartitionKey: 'browser',
    Data: new TextEncoder().encode(cfg.data),
  }));
  // How the browser reached sluice (h2 over TLS, as Chromium negotiates).
  const protocols = performance.getEntriesByType('resource')
    .filter((e) => e.name.startsWith(cfg.endpoint)).map((e) => e.nextHopProtocol);
  return { ok: true, origin: location.origin, streams: ls.StreamNames,
           shardId: put.ShardId, sequenceNumber: put.SequenceNumber,
           // Readable only because sluice exposes x-amzn-RequestId (CORS).
           requestId: put.$metadata.requestId || null, protocols };
}

run().then(
  (r) => { out.textContent = JSON.stringify(r); },
  (e) => { out.textContent = JSON.stringify({ ok: false, name: e.name, error: String(e) }); });
