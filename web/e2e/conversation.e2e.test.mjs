// Replies, reactions, pins and forwarding in real headless Chromium: two people in two browser
// contexts against one real server; each feature live and after a reload, at desktop and phone
// sizes, and the message menu from the keyboard. Screenshots go to web/e2e/artifacts/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, REPO, createDatabase, dropDatabase, eventually, freePort, removeDir, startServer, tempDir } from "./harness.mjs";
import { Api, signedInContext } from "./seed.mjs";

const T = 20_000;
const ARTIFACTS = process.env.E2E_ARTIFACTS ?? join(REPO, "web", "e2e", "artifacts");
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

let db;
let dataDir;
let server;
let browser;
let api;
const s = Math.random().toString(36).slice(2, 8);
const person = (n, name) => ({ email: `${n}-${s}@example.test`, username: `${n}_${s}`, name, password: `${n} long password 1` });
let ann;
let ben;
let group;
let direct;
let other;

before(async () => {
  assert.ok(existsSync(join(REPO, "web", "dist", "index.html")), "run `npm run build` first");
  mkdirSync(ARTIFACTS, { recursive: true });
  db = createDatabase();
  dataDir = tempDir("messenger-web-conversation-");
  server = await startServer({ dsn: db.dsn, port: await freePort(), dataDir });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  api = new Api(server.base, dataDir);
  [ann, ben] = await Promise.all([api.account(person("ann", "Ann Archer")), api.account(person("ben", "Ben Baker"))]);
  group = await api.chat(ann, { kind: "group", title: "Garden club", member_ids: [ben.user.id] });
  direct = await api.chat(ann, { kind: "direct", member_ids: [ben.user.id] });
  other = await api.chat(ann, { kind: "group", title: "Book club", member_ids: [ben.user.id] });
  // a long history in the group: a quote of its first message needs older pages
  await api.send(ann, group.id, "The very first message");
  for (let i = 2; i <= 80; i += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, k) => api.send(k % 2 ? ann : ben, group.id, `note ${i + k}`)));
  }
  await api.send(ben, group.id, "Tomatoes are ripe");
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (db) dropDatabase(db.name);
  if (dataDir) removeDir(dataDir);
});

function watch(page) {
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 4\d\d|WebSocket connection to/.test(m.text())) problems.push(m.text());
  });
  return problems;
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
const log = (page) => page.getByRole("log", { name: "Messages" });
// the message whose own text has `text` (a reply's quote of it does not count)
const bubble = (page, text) => log(page).locator("li.message", { has: page.locator(".text", { hasText: text }) }).last();

async function open(who, chatId, viewport = DESKTOP) {
  const context = await signedInContext(browser, server.base, who, { viewport });
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(`/chats/${chatId}`);
  await page.getByRole("textbox", { name: "Message" }).waitFor({ timeout: T });
  return { context, page, problems };
}

/** The message's menu by pointer: hover shows the ⋯ button, a click opens the menu. */
async function menu(page, text, action) {
  const item = bubble(page, text);
  await item.hover();
  await item.getByRole("button", { name: "Message actions" }).click();
  await page.getByRole("menuitem", { name: action, exact: true }).click();
}

test("reply, react and pin reach the other person live and survive a reload", async () => {
  const a = await open(ann, group.id);
  const b = await open(ben, group.id);
  await bubble(a.page, "Tomatoes are ripe").waitFor({ timeout: T });

  // reply: the composer shows the quote; the reply shows it to both
  await menu(a.page, "Tomatoes are ripe", "Reply");
  const replying = a.page.getByRole("group", { name: /Replying to Ben Baker/ });
  await replying.waitFor({ timeout: T });
  assert.match(await replying.textContent(), /Tomatoes are ripe/);
  await a.page.keyboard.type("Bring a basket");
  await a.page.keyboard.press("Enter");
  await replying.waitFor({ state: "detached", timeout: T });
  const quote = (page) => bubble(page, "Bring a basket").locator(".reply-quote");
  await quote(b.page).waitFor({ timeout: T });
  assert.match(await quote(b.page).textContent(), /Ben Baker.*Tomatoes are ripe|You.*Tomatoes are ripe/);

  // react from the picker's search; the other side sees the chip live and adds to it
  await menu(b.page, "Bring a basket", "React");
  await b.page.getByRole("searchbox", { name: "Search emoji" }).fill("party popper");
  await b.page.getByRole("button", { name: "React with 🎉" }).click();
  const chip = (page) => bubble(page, "Bring a basket").locator(".chip-reaction").first();
  await a.page.waitForFunction(() => /🎉\s*1/.test(document.querySelector(".chip-reaction")?.textContent ?? ""), null, { timeout: T });
  assert.equal(await chip(b.page).getAttribute("aria-pressed"), "true", "own reaction highlighted");
  assert.equal(await chip(a.page).getAttribute("aria-pressed"), "false");
  await chip(a.page).click();
  await b.page.waitForFunction(() => /🎉\s*2/.test(document.querySelector(".chip-reaction")?.textContent ?? ""), null, { timeout: T });
  // hovering lists who reacted
  await quote(b.page).hover();
  await chip(b.page).hover();
  await b.page.waitForFunction(() => /Ann Archer/.test(document.querySelector(".chip-reaction")?.getAttribute("title") ?? ""), null, { timeout: T });
  assert.match(await chip(b.page).getAttribute("title"), /Ben Baker/);

  // pin (Ann owns the group): Ben's header shows the pinned bar live
  await menu(a.page, "Tomatoes are ripe", "Pin");
  const bar = (page) => page.locator(".pinned-bar");
  await bar(b.page).getByText("Tomatoes are ripe").waitFor({ timeout: T });
  await menu(a.page, "note 75", "Pin");
  await bar(b.page).getByText("note 75").waitFor({ timeout: T });
  assert.match(await bar(b.page).textContent(), /Pinned 1\/2/);
  await shot(a.page, "conversation-reply-react-pin-ann-1366x768");
  await shot(b.page, "conversation-reply-react-pin-ben-1366x768");

  // after a reload everything is still there, with Ben's own reaction still his
  await b.page.reload();
  await quote(b.page).waitFor({ timeout: T });
  await bar(b.page).getByText("note 75").waitFor({ timeout: T });
  await b.page.waitForFunction(() => /🎉\s*2/.test(document.querySelector(".chip-reaction")?.textContent ?? ""), null, { timeout: T });
  assert.equal(await chip(b.page).getAttribute("aria-pressed"), "true");

  // the pinned bar cycles: a click goes to the pin shown and shows the next one
  await bar(b.page).getByRole("button").click();
  await b.page.waitForFunction(() => document.activeElement?.textContent?.includes("note 75"), null, { timeout: T });
  assert.match(await bar(b.page).textContent(), /Pinned 2\/2.*Tomatoes are ripe/);

  // unpinning and the original's edit reach the other side live
  await menu(a.page, "note 75", "Unpin");
  await b.page.waitForFunction(() => !document.querySelector(".pinned-bar")?.textContent?.includes("note 75"), null, { timeout: T });
  await menu(b.page, "Tomatoes are ripe", "Edit");
  await b.page.getByRole("textbox", { name: "Edit message" }).fill("Tomatoes and beans are ripe");
  await b.page.keyboard.press("Enter");
  await a.page.waitForFunction(() => /beans/.test(document.querySelector(".messages .reply-quote")?.textContent ?? ""), null, { timeout: T });
  await shot(b.page, "conversation-after-reload-ben-1366x768");
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});

test("a quote of a message far above goes there, loading older pages", async () => {
  const first = (await api.call("GET", `/v1/chats/${group.id}/messages?after=0&limit=1`, { token: ann.token })).messages[0];
  await api.send(ben, group.id, "About the first one", { reply_to_id: first.id });
  const a = await open(ann, group.id);
  const item = bubble(a.page, "About the first one");
  await item.locator(".reply-quote").click();
  await a.page.waitForFunction(() => document.activeElement?.dataset?.seq === "1", null, { timeout: T });
  assert.ok(await a.page.locator('li.message[data-seq="1"]').isVisible());
  await shot(a.page, "conversation-jump-to-original-1366x768");
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test("keyboard: Shift+F10 and the menu key open the menu, arrows move, Esc closes and focus returns", async () => {
  const a = await open(ann, group.id);
  const last = log(a.page).locator("li.message").last();
  await last.focus();
  await a.page.keyboard.press("Shift+F10");
  const items = a.page.getByRole("menuitem");
  await items.first().waitFor({ timeout: T });
  await a.page.waitForFunction(() => document.activeElement?.textContent === "Reply", null, { timeout: T });
  await a.page.keyboard.press("ArrowDown");
  await eventually(() => a.page.evaluate(() => document.activeElement?.textContent), "React");
  await a.page.keyboard.press("End");
  await eventually(() => a.page.evaluate(() => document.activeElement?.textContent), /Delete|Copy link/);
  await a.page.keyboard.press("Home");
  await shot(a.page, "conversation-keyboard-menu-1366x768");
  await a.page.keyboard.press("Escape");
  await items.first().waitFor({ state: "detached", timeout: T });
  await a.page.waitForFunction(() => document.activeElement?.matches("li.message"), null, { timeout: T });

  // the menu key, then Reply from the keyboard; Esc in the composer cancels the reply
  await a.page.keyboard.press("ContextMenu");
  await items.first().waitFor({ timeout: T });
  await a.page.keyboard.press("Enter");
  const replying = a.page.getByRole("group", { name: /Replying to/ });
  await replying.waitFor({ timeout: T });
  await a.page.waitForFunction(() => document.activeElement?.getAttribute("placeholder") === "Write a message", null, {
    timeout: T,
  });
  await a.page.keyboard.press("Escape");
  await replying.waitFor({ state: "detached", timeout: T });

  // React from the keyboard: the picker's search takes the focus; Enter picks the first match
  await last.focus();
  await a.page.keyboard.press("Shift+F10");
  await items.first().waitFor({ timeout: T });
  await a.page.keyboard.press("ArrowDown");
  await a.page.keyboard.press("Enter");
  await a.page.keyboard.type("thumbs up");
  await a.page.waitForFunction(() => document.querySelector(".emoji-grid button")?.textContent === "👍", null, { timeout: T });
  await a.page.keyboard.press("Enter");
  await last.locator(".chip-reaction", { hasText: "👍" }).waitFor({ timeout: T });
  await a.page.waitForFunction(() => document.activeElement?.matches("li.message"), null, { timeout: T });
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test("forward to several chats with search, at phone size; the copy arrives live and stays after a reload", async () => {
  const original = await api.send(ann, other.id, "Meeting moved to Friday");
  const a = await open(ann, other.id, PHONE);
  const b = await open(ben, direct.id, PHONE);
  await menu(a.page, "Meeting moved to Friday", "Forward");
  const dialog = a.page.getByRole("dialog", { name: "Forward message" });
  await dialog.waitFor({ timeout: T });
  await dialog.getByRole("searchbox", { name: "Search chats" }).fill("garden");
  await dialog.getByRole("checkbox", { name: "Garden club" }).check();
  await dialog.getByRole("searchbox", { name: "Search chats" }).fill("");
  await dialog.getByRole("checkbox", { name: "Ben Baker" }).check();
  await shot(a.page, "conversation-forward-dialog-390x844");
  await dialog.getByRole("button", { name: "Forward to 2 chats" }).click();
  await dialog.waitFor({ state: "detached", timeout: T });
  await a.page.getByRole("status").getByText("Forwarded to 2 chats").waitFor({ timeout: T });

  const copy = bubble(b.page, "Meeting moved to Friday");
  await copy.waitFor({ timeout: T });
  assert.match(await copy.textContent(), /Forwarded from Ann Archer/);
  await shot(b.page, "conversation-forwarded-390x844");
  await b.page.reload();
  await bubble(b.page, "Meeting moved to Friday").getByText("Forwarded from Ann Archer").waitFor({ timeout: T });
  const groupPage = await api.call("GET", `/v1/chats/${group.id}/messages`, { token: ben.token });
  const copied = groupPage.messages.find((m) => m.text === "Meeting moved to Friday");
  assert.equal(copied.forwarded_from.message_id, original.id, "Ben is in the original chat: he sees where it came from");

  // a long press opens the same menu on a touch screen
  await b.context.close();
  const touch = await signedInContext(browser, server.base, ben, { viewport: PHONE, hasTouch: true, isMobile: true });
  const page = await touch.newPage();
  await page.goto(`/chats/${direct.id}`);
  const target = bubble(page, "Meeting moved to Friday");
  await target.waitFor({ timeout: T });
  const box = await target.locator(".bubble").boundingBox();
  const cdp = await touch.newCDPSession(page);
  const point = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [point] });
  await page.getByRole("menuitem", { name: "Reply" }).waitFor({ timeout: T });
  await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
  await page.waitForTimeout(300);
  assert.ok(await page.getByRole("menuitem", { name: "Reply" }).isVisible(), "lifting the finger leaves the menu open");
  assert.equal(await page.getByRole("group", { name: /Replying to/ }).count(), 0, "and chose nothing");
  await shot(page, "conversation-long-press-menu-390x844");
  assert.deepEqual(a.problems, []);
  await a.context.close();
  await touch.close();
});
