// Makes sure the servers the checks need are up before any test runs.
//
// ../scripts/ui-tests starts them and passes their addresses in BOXOFFICE_URL,
// BOXOFFICE_SHORT_URL and BOXOFFICE_STRIPE_URL (Stripe mode, against localstripe at
// LOCALSTRIPE_URL); when one is missing (`npx playwright test` run alone), this
// starts localstripe and the debug binary itself (BOXOFFICE_BIN, default
// $CARGO_TARGET_DIR/debug/boxoffice) on a free port with a temporary DATA_DIR, and stops
// it when the run ends. Workers inherit the addresses through the environment.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { createServer } from 'node:net';
import path from 'node:path';
import { STRIPE_JS_URL, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET } from './stripe-double';

const SERVERS: Record<string, () => Record<string, string>> = {
  BOXOFFICE_URL: () => ({}),
  BOXOFFICE_SHORT_URL: () => ({ EXPIRATION_WINDOW_SECONDS: '5', QUEUE_TURN_SECONDS: '5' }),
  BOXOFFICE_STRIPE_URL: () => ({
    STRIPE_KEY: STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
    STRIPE_API_BASE: process.env.LOCALSTRIPE_URL!,
    STRIPE_PUBLISHABLE_KEY: 'pk_test_boxoffice',
    STRIPE_JS_URL,
  }),
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** localstripe on a free port (../scripts/serve_localstripe.py), once it answers. */
async function startLocalStripe(): Promise<ChildProcess> {
  const port = await freePort();
  const script = path.join(__dirname, '../scripts/serve_localstripe.py');
  const child = spawn('python3', [script, String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/v1/balance`, { headers: { authorization: `Bearer ${STRIPE_SECRET_KEY}` } });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('localstripe did not start within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  process.env.LOCALSTRIPE_URL = url;
  return child;
}

function binary(): string {
  if (process.env.BOXOFFICE_BIN) return process.env.BOXOFFICE_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? path.join(homedir(), '.cache/boxoffice-target');
  return path.join(target, 'debug/boxoffice');
}

/** Starts one server on PORT=0 and resolves with its address from the log line. */
function start(extra: Record<string, string>): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'boxoffice-ui-'));
  const child = spawn(binary(), [], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dir,
      LOG_FORMAT: 'text',
      NO_COLOR: '1',
      RUST_LOG: process.env.RUST_LOG ?? 'warn,boxoffice_app=info',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`boxoffice did not start within 30 s:\n${log}`));
    }, 30_000);
    const read = (chunk: Buffer) => {
      log += chunk.toString();
      const found = /listening on (http:\/\/[0-9.]+:[0-9]+)/.exec(log.replace(/\x1b\[[0-9;]*m/g, ''));
      if (found) {
        clearTimeout(timer);
        child.stdout?.off('data', read);
        child.stderr?.off('data', read);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve({ url: found[1], child, dir });
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`boxoffice exited (${code}) before listening:\n${log}`));
    });
  });
}

async function ready(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url}/readyz never answered 200`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const started: { child: ChildProcess; dir: string }[] = [];
  let localstripe: ChildProcess | null = null;
  if (!process.env.BOXOFFICE_STRIPE_URL && !process.env.LOCALSTRIPE_URL) {
    localstripe = await startLocalStripe();
  }
  for (const [name, extra] of Object.entries(SERVERS)) {
    if (!process.env[name]) {
      const server = await start(extra());
      started.push(server);
      process.env[name] = server.url;
    }
    await ready(process.env[name]!);
  }
  return async () => {
    for (const { child, dir } of started) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      rmSync(dir, { recursive: true, force: true });
    }
    localstripe?.kill('SIGTERM');
  };
}
