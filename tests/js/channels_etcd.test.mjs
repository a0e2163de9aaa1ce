// channels.test.mjs again, with sluiced's metadata in etcd (--metadata
// etcd=URL): the channel calls of the etcd store (cp_store_etcd.c) through
// the SDK and the lifecycle timer. Starts its own etcd (Debian's
// etcd-server, /usr/bin/etcd or $SL_ETCD) on free loopback ports, passes it
// to channels.test.mjs through SLUICED_EXTRA_ARGS, stops it after.
import { after } from 'node:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const etcdBin = process.env.SL_ETCD || '/usr/bin/etcd';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-channels-etcd-'));
const client = `http://127.0.0.1:${await freePort()}`;
const peer = `http://127.0.0.1:${await freePort()}`;
const log = fs.openSync(path.join(dir, 'etcd.log'), 'a');
const etcd = spawn(etcdBin, ['--name', 'js', '--data-dir', path.join(dir, 'etcd'),
  '--listen-client-urls', client, '--advertise-client-urls', client,
  '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
  '--initial-cluster', `js=${peer}`], { stdio: ['ignore', log, log] });

// Ready when its health endpoint answers (20 s: the machine may be busy).
const end = Date.now() + 20000;
for (;;) {
  try {
    const r = await fetch(`${client}/health`);
    if (r.ok) break;
  } catch { /* not listening yet */ }
  if (etcd.exitCode !== null || Date.now() > end)
    throw new Error(`etcd did not start (log: ${dir}/etcd.log)`);
  await new Promise((r) => setTimeout(r, 100));
}

process.env.SLUICED_EXTRA_ARGS = `--metadata etcd=${client} --etcd-cluster js`;
await import('./channels.test.mjs');

// registered after channels.test.mjs's own hooks, so it runs after its
// server stopped
after(async () => {
  const exited = new Promise((r) => etcd.on('exit', r));
  etcd.kill('SIGTERM');
  await exited;
  fs.rmSync(dir, { recursive: true, force: true });
});
