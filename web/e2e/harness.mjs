// Real-service harness for the end-to-end test: a fresh PostgreSQL database, a real
// `python -m messenger serve` on a free port (mails land in MESSENGER_DATA_DIR/outbox), and
// Debian's Chromium driven by playwright-core (no browser download).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";

export const REPO = resolve(import.meta.dirname, "..", "..");
export const PYTHON = process.env.MESSENGER_PYTHON ?? join(REPO, ".venv", "bin", "python");
const ADMIN_DSN = process.env.TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function python(code, args = []) {
  const r = spawnSync(PYTHON, ["-c", code, ...args], { encoding: "utf8", cwd: REPO });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

const SQL = `
import asyncio, sys, asyncpg
async def main(dsn, sql):
    c = await asyncpg.connect(dsn)
    try:
        await c.execute(sql)
    finally:
        await c.close()
asyncio.run(main(sys.argv[1], sys.argv[2]))
`;

export function createDatabase() {
  const name = `mweb_${randomBytes(5).toString("hex")}`;
  python(SQL, [ADMIN_DSN, `CREATE DATABASE "${name}"`]);
  const base = ADMIN_DSN.slice(0, ADMIN_DSN.lastIndexOf("/"));
  return { name, dsn: `${base}/${name}` };
}

export function dropDatabase(name) {
  python(SQL, [ADMIN_DSN, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`]);
}

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

export async function startServer({ dsn, port, dataDir }) {
  const base = `http://127.0.0.1:${port}`;
  const env = { ...process.env };
  for (const k of ["SMTP_URL", "REDIS_URL", "S3_ENDPOINT_URL", "S3_BUCKET", "ALLOWED_ORIGINS"]) delete env[k];
  Object.assign(env, {
    DATABASE_URL: dsn,
    MESSENGER_DATA_DIR: dataDir,
    SECRET_KEY: "web-e2e-secret-key-0123456789abcdef",
    PUBLIC_URL: base,
    BCRYPT_ROUNDS: "4",
    LOG_LEVEL: process.env.E2E_SERVER_LOG ?? "WARNING",
  });
  // with DATABASE_URL set the server expects a migrated database (the Procfile's release step)
  const migrated = spawnSync(PYTHON, ["-m", "messenger", "migrate"], { cwd: REPO, env, encoding: "utf8" });
  if (migrated.status !== 0) throw new Error(`messenger migrate failed: ${migrated.stderr}`);
  const proc = spawn(PYTHON, ["-m", "messenger", "serve", "--host", "127.0.0.1", "--port", String(port)], {
    cwd: REPO,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error("server did not become ready in 30 s");
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    base,
    proc,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

const MAIL = `
import email, email.policy, pathlib, sys, json
out = []
d = pathlib.Path(sys.argv[1])
for p in sorted(d.glob("*.eml")) if d.exists() else []:
    m = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
    body = m.get_body(("plain",))
    out.append({"to": str(m["To"]), "subject": str(m["Subject"]), "text": body.get_content() if body else ""})
print(json.dumps(out))
`;

/** The first link matching `pathPrefix` in a mail to `address` (polls: mails are sent as jobs). */
export async function linkFromOutbox(dataDir, address, pathPrefix, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  const outbox = join(dataDir, "outbox");
  const pattern = new RegExp(`https?://\\S+${pathPrefix.replace(/[?]/g, "\\?")}\\S+`);
  for (;;) {
    if (existsSync(outbox) && readdirSync(outbox).length > 0) {
      const mails = JSON.parse(python(MAIL, [outbox]));
      for (const m of mails) {
        if (!m.to.includes(address)) continue;
        const found = m.text.match(pattern);
        if (found) return found[0];
      }
    }
    if (Date.now() > deadline) throw new Error(`no mail with ${pathPrefix} to ${address} in ${outbox}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Poll `read()` until its value equals `expected` (deeply; a RegExp: matches it). The app renders
 * asynchronously after a key press or a click (focus often moves in an effect), so a sample taken
 * at once can see the state before it. After `timeoutMs` the last value is asserted, so a failure
 * still says what was there.
 */
export async function eventually(read, expected, message, timeoutMs = 20_000) {
  const ok = (v) => (expected instanceof RegExp ? expected.test(String(v)) : isDeepStrictEqual(v, expected));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return;
    if (Date.now() > deadline) {
      if (expected instanceof RegExp) assert.match(String(value), expected, message);
      else assert.deepStrictEqual(value, expected, message);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
