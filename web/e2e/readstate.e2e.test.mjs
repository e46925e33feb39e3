// Read state that survives a reload, in real headless Chromium against a real server: presence of
// someone who was online before we connected, "Seen" after a reload, the unread divider and
// "jump to latest", a mention in the notifications inbox, and desktop notifications (a muted
// chat gives none). Accounts and seed messages go through the REST API; people use the UI.
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
  freePort,
  linkFromOutbox,
  removeDir,
  startServer,
  tempDir,
} from "./harness.mjs";

const T = 20_000;
const ARTIFACTS = join(REPO, "web", "e2e", "artifacts");
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

let db;
let dataDir;
let server;
let browser;
const suffix = Math.random().toString(36).slice(2, 8);

before(async () => {
  assert.ok(existsSync(join(REPO, "web", "dist", "index.html")), "run `npm run build` first");
  mkdirSync(ARTIFACTS, { recursive: true });
  db = createDatabase();
  dataDir = tempDir("messenger-web-readstate-");
  server = await startServer({ dsn: db.dsn, port: await freePort(), dataDir });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (db) dropDatabase(db.name);
  if (dataDir) removeDir(dataDir);
});

// ---- REST helpers ----------------------------------------------------------------------------

async function rest(method, path, token, body) {
  const r = await fetch(`${server.base}${path}`, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

let people = 0;
/** A verified account, signed in over REST (the token seeds chats and messages). */
async function person(name) {
  const n = ++people;
  const who = {
    name,
    username: `${name.toLowerCase()}_${suffix}_${n}`,
    email: `${name.toLowerCase()}-${suffix}-${n}@example.test`,
    password: "correct horse battery",
  };
  await rest("POST", "/v1/auth/register", null, {
    email: who.email,
    username: who.username,
    password: who.password,
    display_name: name,
  });
  const link = await linkFromOutbox(dataDir, who.email, "/verify-email?token=");
  await rest("POST", "/v1/auth/verify-email", null, { token: new URL(link).searchParams.get("token") });
  const login = await rest("POST", "/v1/auth/login", null, { login: who.username, password: who.password });
  return { ...who, id: login.user.id, token: login.access_token };
}

async function chat(owner, kind, members, title) {
  const body = { kind, member_ids: members.map((m) => m.id), ...(title ? { title } : {}) };
  return (await rest("POST", "/v1/chats", owner.token, body)).chat.id;
}

let sent = 0;
async function say(who, chatId, text) {
  return (await rest("POST", `/v1/chats/${chatId}/messages`, who.token, { client_msg_id: `e2e-${++sent}`, text })).message;
}

// ---- browser helpers -------------------------------------------------------------------------

// Records `new Notification(...)` and permission requests; `window.__hidden` fakes a background tab.
const NOTIFICATION_SPY = () => {
  window.__notes = [];
  window.__noteObjects = [];
  window.__permissionAsks = 0;
  const Real = window.Notification;
  if (Real) {
    class Spy extends Real {
      constructor(title, options) {
        super(title, options);
        window.__notes.push({ title, body: options?.body ?? "" });
        window.__noteObjects.push(this);
      }
    }
    Object.defineProperty(Spy, "permission", { get: () => Real.permission });
    Spy.requestPermission = (...args) => {
      window.__permissionAsks += 1;
      return Real.requestPermission(...args);
    };
    window.Notification = Spy;
  }
  window.__hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get: () => (window.__hidden ? "hidden" : "visible"),
  });
};

async function open(who, { viewport = DESKTOP, notifications = false } = {}) {
  const context = await browser.newContext({
    baseURL: server.base,
    viewport,
    ...(notifications ? { permissions: ["notifications"] } : {}),
  });
  await context.addInitScript(NOTIFICATION_SPY);
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto("/login");
  await page.getByLabel("Email or username").fill(who.username);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  await page.getByLabel("Password", { exact: true }).press("Enter");
  await page.getByRole("heading", { name: "Chats", level: 1 }).waitFor({ timeout: T });
  return { context, page, problems };
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `readstate-${name}.png`) });
}

function log(page) {
  return page.getByRole("log", { name: "Messages" });
}

function entry(page, title) {
  return page.getByRole("link", { name: new RegExp(`^${title}`) });
}

/** Distance from the bottom of the message history, in pixels. */
function gapBelow(page) {
  return page.locator(".scroller").evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
}

// ---- tests -----------------------------------------------------------------------------------

test("someone who was online before we connected shows as online, then last seen", async () => {
  const alice = await person("Alice");
  const bob = await person("Bob");
  const chatId = await chat(alice, "direct", [bob]);
  const b = await open(bob);
  // Bob is connected before Alice: only ready.presence can tell Alice he is online.
  await entry(b.page, "Alice").waitFor({ timeout: T });
  const a = await open(alice);
  await entry(a.page, "Bob").locator(".presence.online").waitFor({ timeout: T });
  await a.page.goto(`/chats/${chatId}`);
  await a.page.getByTestId("peer-presence").getByText("online").waitFor({ timeout: T });
  // The in-app prompt asks first; nothing asked the browser on load.
  await a.page.getByRole("region", { name: "Desktop notifications" }).waitFor({ timeout: T });
  assert.equal(await a.page.evaluate(() => window.__permissionAsks), 0);
  await shot(a.page, "1-presence-online-desktop");
  await b.context.close();
  await a.page.getByTestId("peer-presence").getByText(/last seen (just now|\d+ min ago)/).waitFor({ timeout: T });
  await shot(a.page, "2-presence-last-seen");
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test("Seen stays Seen after a reload", async () => {
  const alice = await person("Alice");
  const bob = await person("Bob");
  const chatId = await chat(alice, "direct", [bob]);
  const a = await open(alice);
  const b = await open(bob);
  await a.page.goto(`/chats/${chatId}`);
  await a.page.getByRole("textbox", { name: "Message" }).fill("Did you read this?");
  await a.page.getByRole("textbox", { name: "Message" }).press("Enter");
  await log(a.page).locator('li.message[data-status="sent"]', { hasText: "Did you read this?" }).waitFor({ timeout: T });
  await entry(b.page, "Alice").click();
  await log(b.page).getByText("Did you read this?").waitFor({ timeout: T });
  await log(a.page).locator(".delivery", { hasText: "Seen" }).waitFor({ timeout: T });
  await a.page.reload();
  await log(a.page).getByText("Did you read this?").waitFor({ timeout: T });
  await log(a.page).locator(".delivery", { hasText: "Seen" }).waitFor({ timeout: T });
  await shot(a.page, "3-seen-after-reload");
  await a.context.close();
  await b.context.close();
});

test("a group shows Seen by N with the readers' names", async () => {
  const alice = await person("Alice");
  const bob = await person("Bob");
  const carol = await person("Carol");
  const chatId = await chat(alice, "group", [bob, carol], "Readers");
  await say(alice, chatId, "Group news");
  await rest("POST", `/v1/chats/${chatId}/read`, bob.token, { seq: 1 });
  const a = await open(alice);
  await a.page.goto(`/chats/${chatId}`);
  const seenBy = log(a.page).getByRole("button", { name: "Seen by 1" });
  await seenBy.waitFor({ timeout: T });
  await seenBy.focus();
  await a.page.keyboard.press("Enter");
  await a.page.getByRole("list", { name: "Seen by" }).getByText("Bob").waitFor({ timeout: T });
  await shot(a.page, "4-seen-by");
  await a.page.keyboard.press("Escape");
  await a.page.getByRole("list", { name: "Seen by" }).waitFor({ state: "detached", timeout: T });
  await a.context.close();
});

test("a chat with unread messages opens at a New messages divider; jump to latest counts arrivals", async () => {
  const alice = await person("Alice");
  const bob = await person("Bob");
  const chatId = await chat(bob, "group", [alice], "Busy room");
  await say(alice, chatId, "I was here first");
  for (let i = 1; i <= 80; i++) await say(bob, chatId, `unread ${i}`);
  const a = await open(alice, { viewport: PHONE });
  await entry(a.page, "Busy room").click();
  const divider = log(a.page).getByRole("separator", { name: "New messages" });
  await divider.waitFor({ timeout: T });
  // The first unread message follows the divider, and the view opened there, not at the bottom.
  const firstUnread = log(a.page).locator("li.unread-divider + li.message .text");
  await firstUnread.waitFor({ timeout: T });
  assert.equal(await firstUnread.textContent(), "unread 1");
  await log(a.page).getByText("unread 1", { exact: true }).waitFor({ state: "visible", timeout: T });
  assert.ok((await gapBelow(a.page)) > 500, "opened at the divider, far from the bottom");
  await shot(a.page, "5-divider-phone");
  // Scrolled up, two messages arrive: the button says so, and takes us to them.
  await say(bob, chatId, "fresh one");
  await say(bob, chatId, "fresh two");
  const jump = a.page.getByRole("button", { name: /Jump to latest/ });
  await jump.getByText("2 new").waitFor({ timeout: T });
  await shot(a.page, "6-jump-to-latest-phone");
  await jump.focus();
  await a.page.keyboard.press("Enter");
  await log(a.page).getByText("fresh two").waitFor({ state: "visible", timeout: T });
  await jump.waitFor({ state: "detached", timeout: T });
  assert.ok((await gapBelow(a.page)) < 120);
  await a.context.close();
});

test("a mention lands in the inbox and opens the message in context", async () => {
  const alice = await person("Alice");
  const bob = await person("Bob");
  const chatId = await chat(bob, "group", [alice], "Planning");
  const a = await open(alice);
  await entry(a.page, "Planning").waitFor({ timeout: T });
  await say(bob, chatId, `@${alice.username} can you check the numbers?`);
  for (let i = 1; i <= 60; i++) await say(bob, chatId, `chatter ${i}`);
  // The notification is made by a background job, whenever the page's socket happens to connect:
  // the open page's bell must show it without a reload.
  const bell = a.page.getByRole("button", { name: /^Notifications, 1 unread/ });
  await bell.waitFor({ timeout: T });
  // Keyboard only: focus the bell, open the inbox, pick the mention.
  await bell.focus();
  await a.page.keyboard.press("Enter");
  const inbox = a.page.getByRole("dialog", { name: "Notifications" });
  const item = inbox.getByRole("button", { name: /Mentioned you in Planning/ });
  await item.waitFor({ timeout: T });
  await shot(a.page, "7-inbox");
  await item.focus();
  await a.page.keyboard.press("Enter");
  const mention = log(a.page).locator("li.message.highlighted", { hasText: "can you check the numbers?" });
  await mention.waitFor({ state: "visible", timeout: T });
  await shot(a.page, "8-mention-in-context");
  // Opening the chat read the mention: the bell is back to no unread.
  await a.page.getByRole("button", { name: "Notifications", exact: true }).waitFor({ timeout: T });
  await a.context.close();
});

test("desktop notifications for a direct message in a background tab, none from a muted chat", async () => {
  const alice = await person("Alice");
  const bob = await person("Bob");
  const carol = await person("Carol");
  const withBob = await chat(bob, "direct", [alice]);
  const withCarol = await chat(carol, "direct", [alice]);
  const a = await open(alice, { notifications: true });
  await entry(a.page, "Bob").waitFor({ timeout: T });
  await entry(a.page, "Carol").waitFor({ timeout: T });
  // Granted already: no in-app prompt.
  assert.equal(await a.page.getByRole("region", { name: "Desktop notifications" }).count(), 0);

  // Mute the chat with Carol from its settings panel, by keyboard.
  await a.page.goto(`/chats/${withCarol}`);
  const settings = a.page.getByRole("button", { name: "Chat settings" });
  await settings.focus();
  await a.page.keyboard.press("Enter");
  const mute = a.page.getByRole("checkbox", { name: "Mute notifications" });
  await mute.waitFor({ timeout: T });
  await mute.focus();
  await a.page.keyboard.press("Space");
  await a.page.getByRole("checkbox", { name: "Mute notifications", checked: true }).waitFor({ timeout: T });
  await shot(a.page, "9-chat-settings-muted");
  await a.page.getByRole("button", { name: "Done" }).click();
  await a.page.goto("/chats");
  await entry(a.page, "Carol").waitFor({ timeout: T });

  await a.page.evaluate(() => {
    window.__hidden = true;
  });
  await say(carol, withCarol, "muted hello");
  await entry(a.page, "Carol.*1 unread").waitFor({ timeout: T });
  await say(bob, withBob, "hello from Bob");
  await a.page.waitForFunction(() => window.__notes.length > 0, null, { timeout: T });
  // Messages are handled in order: Carol's (muted) came first and produced nothing.
  const notes = await a.page.evaluate(() => window.__notes);
  assert.deepEqual(notes, [{ title: "Bob", body: "hello from Bob" }]);
  // Clicking it opens the chat with Bob at that message.
  await a.page.evaluate(() => window.__noteObjects[0].onclick(new Event("click")));
  await a.page.getByRole("heading", { name: "Bob", level: 1 }).waitFor({ timeout: T });
  await log(a.page).locator("li.message.highlighted", { hasText: "hello from Bob" }).waitFor({ timeout: T });
  assert.match(new URL(a.page.url()).pathname, new RegExp(`/chats/${withBob}$`));
  await a.context.close();
});

test("profile shows the email and notification settings; hiding last seen saves", async () => {
  const alice = await person("Alice");
  const a = await open(alice, { viewport: PHONE });
  await a.page.getByRole("link", { name: "Profile" }).click();
  await a.page.getByText(`Emails go to ${alice.email}.`).waitFor({ timeout: T });
  const lastSeen = a.page.getByRole("checkbox", { name: /Show when I was last seen/ });
  await lastSeen.waitFor({ timeout: T });
  assert.equal(await lastSeen.isChecked(), true);
  await lastSeen.focus();
  await a.page.keyboard.press("Space");
  await a.page.getByRole("checkbox", { name: /Show when I was last seen/, checked: false }).waitFor({ timeout: T });
  await shot(a.page, "10-profile-phone");
  const saved = await rest("GET", "/v1/users/me/settings", alice.token);
  assert.equal(saved.settings.show_last_seen, false);
  await a.context.close();
});
