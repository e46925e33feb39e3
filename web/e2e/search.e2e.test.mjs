// Search end to end in headless Chromium against a real server: a message 300 messages back is
// found from the sidebar with the keyboard alone (Ctrl+K, type, Enter, arrows, Enter), opens in
// its chat with the messages around it, and flashes; the chat filter and in-chat search work;
// the same at phone size. Screenshots land in e2e/artifacts/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  REPO,
  createDatabase,
  dropDatabase,
  eventually,
  freePort,
  linkFromOutbox,
  removeDir,
  startServer,
  tempDir,
} from "./harness.mjs";

const T = 20_000;
const ARTIFACTS = join(import.meta.dirname, "artifacts");
const TOTAL = 320;
const TARGET = TOTAL - 300; // the seq of the message we look for: 300 messages back

let db;
let dataDir;
let server;
let browser;
let chatId;
const suffix = Math.random().toString(36).slice(2, 8);
const carol = { email: `carol-${suffix}@example.test`, username: `carol_${suffix}`, password: "search e2e password" };

async function rest(method, path, body, token) {
  const r = await fetch(`${server.base}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

before(async () => {
  assert.ok(existsSync(join(REPO, "web", "dist", "index.html")), "run `npm run build` first");
  mkdirSync(ARTIFACTS, { recursive: true });
  db = createDatabase();
  dataDir = tempDir("messenger-web-search-");
  server = await startServer({ dsn: db.dsn, port: await freePort(), dataDir });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  // One user with a long chat (the message we want is 300 back) and a second, short one.
  await rest("POST", "/v1/auth/register", { email: carol.email, username: carol.username, password: carol.password, display_name: "Carol Searcher" });
  const link = await linkFromOutbox(dataDir, carol.email, "/verify-email?token=");
  await rest("POST", "/v1/auth/verify-email", { token: new URL(link).searchParams.get("token") });
  const { access_token: token } = await rest("POST", "/v1/auth/login", { login: carol.username, password: carol.password });
  await rest("POST", "/v1/chats", { kind: "group", title: "Weekend plans", member_ids: [] }, token);
  const { chat } = await rest("POST", "/v1/chats", { kind: "group", title: "Project Atlas", member_ids: [] }, token);
  chatId = chat.id;
  for (let i = 1; i <= TOTAL; i++) {
    const text = i === TARGET ? "The quokka migration plan is ready for review" : `status update number ${i}`;
    await rest("POST", `/v1/chats/${chatId}/messages`, { client_msg_id: `e2e-${i}`, text }, token);
  }
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (db) dropDatabase(db.name);
  if (dataDir) removeDir(dataDir);
});

async function signedIn(viewport) {
  const context = await browser.newContext({ baseURL: server.base, viewport });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) problems.push(m.text());
  });
  await page.goto("/login");
  await page.getByLabel("Email or username").fill(carol.username);
  await page.getByLabel("Password", { exact: true }).fill(carol.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Chats", level: 1 }).waitFor({ timeout: T });
  await page.getByRole("link", { name: /Project Atlas/ }).first().waitFor({ timeout: T });
  return { context, page, problems };
}

/** The message with this seq is drawn inside the visible part of the message list. */
async function inView(page, seq) {
  return page.evaluate((s) => {
    const el = document.querySelector(`.chat-detail li[data-seq="${s}"]`);
    const scroller = document.querySelector(".chat-detail .scroller");
    if (!el || !scroller) return false;
    const a = el.getBoundingClientRect();
    const b = scroller.getBoundingClientRect();
    return a.bottom > b.top && a.top < b.bottom;
  }, seq);
}

async function waitInView(page, seq) {
  const deadline = Date.now() + T;
  while (!(await inView(page, seq))) {
    if (Date.now() > deadline) {
      await page.screenshot({ path: join(ARTIFACTS, `search-failed-${seq}.png`) });
      const state = await page.evaluate((s) => {
        const el = document.querySelector(`.chat-detail li[data-seq="${s}"]`);
        const sc = document.querySelector(".chat-detail .scroller");
        return { found: Boolean(el), top: sc?.scrollTop, height: sc?.scrollHeight, url: location.href, n: document.querySelectorAll(".chat-detail li[data-seq]").length };
      }, seq);
      throw new Error(`message ${seq} never scrolled into view: ${JSON.stringify(state)}`);
    }
    await page.waitForTimeout(100);
  }
}

test("keyboard only: Ctrl+K, type, Enter, arrows and Enter open a message 300 back in context", async () => {
  const { context, page, problems } = await signedIn({ width: 1366, height: 768 });
  await page.keyboard.press("Control+k");
  await eventually(() => page.evaluate(() => document.activeElement?.id), "sidebar-search");

  // typing filters the chats (case and accents ignored, word prefixes)
  await page.keyboard.type("ÁTL");
  const chats = page.getByRole("list", { name: "Matching chats" });
  await chats.getByRole("link", { name: /Project Atlas/ }).waitFor({ timeout: T });
  await eventually(() => chats.getByRole("link").count(), 1);
  await page.screenshot({ path: join(ARTIFACTS, "search-desktop-chat-filter.png") });

  await page.keyboard.press("Control+a");
  await page.keyboard.type("quok migr");
  await page.keyboard.press("Enter");
  const found = page.getByRole("list", { name: "Found messages" });
  await found.getByRole("link").first().waitFor({ timeout: T });
  assert.equal(await found.getByRole("link").count(), 1);
  assert.deepEqual(await found.locator("mark").allTextContents(), ["quok", "migr"]);
  assert.match(await found.textContent(), /Project Atlas/);
  assert.match(await found.textContent(), /Carol Searcher/);
  await page.screenshot({ path: join(ARTIFACTS, "search-desktop-results.png") });

  await page.keyboard.press("ArrowDown"); // into the results
  await eventually(() => page.evaluate(() => document.activeElement?.classList.contains("search-result")), true);
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`/chats/${chatId}`), { timeout: T });
  await waitInView(page, TARGET);
  const hit = page.locator(`.chat-detail li[data-seq="${TARGET}"]`);
  assert.match(await hit.getAttribute("class"), /search-hit/);
  assert.match(await hit.textContent(), /quokka migration plan/);
  // in context: its neighbours are there, and so is the newest message (one contiguous list)
  for (const seq of [TARGET - 1, TARGET + 1, TOTAL]) {
    assert.equal(await page.locator(`.chat-detail li[data-seq="${seq}"]`).count(), 1, `message ${seq} is loaded`);
  }
  await eventually(() => page.evaluate(() => document.activeElement?.getAttribute("data-seq")), String(TARGET));
  await page.screenshot({ path: join(ARTIFACTS, "search-desktop-opened.png") });
  assert.deepEqual(problems, []);
  await context.close();
});

test("inside a chat, search finds only that chat's messages and jumps to them", async () => {
  const { context, page, problems } = await signedIn({ width: 1366, height: 768 });
  await page.getByRole("link", { name: /Project Atlas/ }).first().click();
  await page.getByRole("heading", { name: "Project Atlas", level: 1 }).waitFor({ timeout: T });
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const box = page.getByRole("searchbox", { name: "Search in this chat" });
  await box.fill("number 42");
  await box.press("Enter");
  const found = page.getByRole("list", { name: "Found in this chat" });
  await found.getByRole("link").first().waitFor({ timeout: T });
  assert.equal(await found.getByRole("link").count(), 1);
  await page.screenshot({ path: join(ARTIFACTS, "search-desktop-in-chat.png") });
  await found.getByRole("link").first().click();
  await waitInView(page, 42);
  assert.match(await page.locator(`.chat-detail li[data-seq="42"]`).textContent(), /status update number 42/);
  await page.screenshot({ path: join(ARTIFACTS, "search-desktop-in-chat-opened.png") });
  assert.deepEqual(problems, []);
  await context.close();
});

test("at phone size the search opens the message full screen", async () => {
  const { context, page, problems } = await signedIn({ width: 390, height: 844 });
  const box = page.getByRole("searchbox", { name: "Search chats and messages" });
  await box.fill("quokka");
  await page.getByRole("button", { name: /Search messages for/ }).click();
  const found = page.getByRole("list", { name: "Found messages" });
  await found.getByRole("link").first().waitFor({ timeout: T });
  await page.screenshot({ path: join(ARTIFACTS, "search-phone-results.png") });
  await found.getByRole("link").first().click();
  await waitInView(page, TARGET);
  assert.equal(await page.locator(".sidebar").isVisible(), false);
  await page.screenshot({ path: join(ARTIFACTS, "search-phone-opened.png") });
  assert.deepEqual(problems, []);
  await context.close();
});
