// Fast set-up for end-to-end tests over the real REST API: accounts (verified through the
// emailed link), chats, messages and uploaded pictures, and a browser context already signed in.
import { deflateSync } from "node:zlib";
import { linkFromOutbox } from "./harness.mjs";

export class Api {
  constructor(base, dataDir) {
    this.base = base;
    this.dataDir = dataDir;
  }

  async call(method, path, { token, body, raw } = {}) {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let r;
    // a shared CI database may briefly run out of connections (503 unavailable): retry a little
    for (let attempt = 0; ; attempt++) {
      r = await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      if (r.status !== 503 || attempt >= 6) break;
      await new Promise((ok) => setTimeout(ok, 300 * 2 ** attempt));
    }
    if (raw) return r;
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** A verified account; returns { ...who, user, tokens } with a fresh token pair. */
  async account(who) {
    await this.call("POST", "/v1/auth/register", {
      body: { email: who.email, username: who.username, password: who.password, display_name: who.name },
    });
    const link = await linkFromOutbox(this.dataDir, who.email, "/verify-email?token=");
    const token = new URL(link).searchParams.get("token");
    await this.call("POST", "/v1/auth/verify-email", { body: { token } });
    return this.login(who);
  }

  async login(who) {
    const pair = await this.call("POST", "/v1/auth/login", { body: { login: who.username, password: who.password } });
    return { ...who, user: pair.user, tokens: pair, token: pair.access_token };
  }

  chat(owner, body) {
    return this.call("POST", "/v1/chats", { token: owner.token, body }).then((r) => r.chat);
  }

  send(who, chatId, text, extra = {}) {
    const body = { client_msg_id: `e2e-${Math.random().toString(36).slice(2)}`, text, ...extra };
    return this.call("POST", `/v1/chats/${chatId}/messages`, { token: who.token, body }).then((r) => r.message);
  }

  async upload(who, filename, contentType, bytes) {
    const slot = await this.call("POST", "/v1/media", {
      token: who.token,
      body: { filename, content_type: contentType, size: bytes.length },
    });
    const { url, method, headers } = slot.upload;
    const r = await fetch(url, { method, headers, body: bytes });
    if (!r.ok) throw new Error(`upload: HTTP ${r.status}`);
    return (await this.call("POST", `/v1/media/${slot.media.id}/complete`, { token: who.token })).media;
  }
}

/** A browser context signed in as `who` (the app's persisted session, set before any script runs). */
export async function signedInContext(browser, base, who, options = {}) {
  const context = await browser.newContext({ baseURL: base, ...options });
  const session = JSON.stringify({
    tokens: {
      access_token: who.tokens.access_token,
      refresh_token: who.tokens.refresh_token,
      expires_at: Date.now() + who.tokens.expires_in * 1000,
    },
    user: who.user,
  });
  // only when absent: the app rotates the refresh token, and an old one must not come back
  await context.addInitScript((s) => {
    if (!localStorage.getItem("messenger.session")) localStorage.setItem("messenger.session", s);
  }, session);
  return context;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A real width×height RGB PNG (diagonal stripes), for tests that need an image of known size. */
export function png(width, height, [r, g, b] = [47, 111, 237]) {
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const stripe = ((x + y) >> 4) & 1;
      row[1 + x * 3] = stripe ? r : 255;
      row[2 + x * 3] = stripe ? g : 255;
      row[3 + x * 3] = stripe ? b : 255;
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
