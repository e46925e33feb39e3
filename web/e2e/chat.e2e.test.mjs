// End to end in real headless Chromium against a real server: two people register (the link
// comes from the server's outbox), verify, sign in, open a direct chat and talk in real time,
// with typing, read receipts, unread badges, and a dropped connection that resumes without loss.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
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

const T = 20_000; // per-expectation wait; generous for a loaded 2-core CI machine

let db;
let dataDir;
let server;
let browser;
const suffix = Math.random().toString(36).slice(2, 8);
const alice = { email: `alice-${suffix}@example.test`, username: `alice_${suffix}`, name: "Alice Tester", password: "correct horse battery" };
const bob = { email: `bob-${suffix}@example.test`, username: `bob_${suffix}`, name: "Bob Tester", password: "another long secret!" };

before(async () => {
  assert.ok(existsSync(join(REPO, "web", "dist", "index.html")), "run `npm run build` first");
  db = createDatabase();
  dataDir = tempDir("messenger-web-e2e-");
  server = await startServer({ dsn: db.dsn, port: await freePort(), dataDir });
  // playwright gives each launch a fresh temporary profile (its own --user-data-dir)
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (db) dropDatabase(db.name);
  if (dataDir) removeDir(dataDir);
});

async function newPage() {
  const context = await browser.newContext({ baseURL: server.base, viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const external = [];
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.protocol.startsWith("http") || u.protocol.startsWith("ws")) {
      if (u.host !== new URL(server.base).host) external.push(r.url());
    }
  });
  if (process.env.E2E_DEBUG) {
    page.on("websocket", (ws) => {
      console.log("WS open", ws.url());
      ws.on("framesent", (f) => console.log("WS>", String(f.payload).slice(0, 300)));
      ws.on("framereceived", (f) => console.log("WS<", String(f.payload).slice(0, 300)));
      ws.on("close", () => console.log("WS closed"));
    });
    page.on("console", (m) => console.log("console:", m.type(), m.text()));
    page.on("response", (r) => console.log("HTTP", r.status(), r.request().method(), r.url()));
  }
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  page.on("console", (m) => {
    // the browser itself logs failed loads while we take it (or the server) down on purpose
    const expected = /status of 4\d\d|ERR_INTERNET_DISCONNECTED|ERR_CONNECTION_REFUSED|WebSocket connection to/;
    if (m.type() === "error" && !expected.test(m.text())) problems.push(m.text());
  });
  return { context, page, external, problems };
}

async function register(page, who) {
  await page.goto("/register");
  await page.getByLabel("Email", { exact: true }).fill(who.email);
  await page.getByLabel("Username", { exact: true }).fill(who.username);
  await page.getByLabel("Display name", { exact: true }).fill(who.name);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByText(`Check ${who.email}`).waitFor({ timeout: T });
  const link = await linkFromOutbox(dataDir, who.email, "/verify-email?token=");
  assert.ok(link.startsWith(server.base), `verification link points at the server: ${link}`);
  await page.goto(link);
  await page.getByText("Your email address is verified").waitFor({ timeout: T });
}

async function signIn(page, who) {
  await page.goto("/login");
  await page.getByLabel("Email or username").fill(who.username);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Chats", level: 1 }).waitFor({ timeout: T });
}

async function shot(page, name) {
  if (process.env.E2E_SCREENSHOTS) await page.screenshot({ path: join(process.env.E2E_SCREENSHOTS, `${name}.png`) });
}

function log(page) {
  return page.getByRole("log", { name: "Messages" });
}

async function send(page, text) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}

async function seqsOf(page) {
  return log(page).locator("li.message").evaluateAll((els) => els.map((e) => e.getAttribute("data-seq")));
}

test("two people register, verify, sign in and chat in real time", async () => {
  const a = await newPage();
  const b = await newPage();

  // The app shell is served by the server itself, with the security headers.
  const res = await a.page.goto("/");
  assert.equal(res.status(), 200);
  assert.match(res.headers()["content-security-policy"] ?? "", /default-src 'self'/);

  await register(a.page, alice);
  await register(b.page, bob);
  await signIn(a.page, alice);
  await signIn(b.page, bob);

  // Alice finds Bob and opens a direct chat.
  await a.page.getByRole("button", { name: "New chat" }).click();
  await a.page.getByLabel("Find people").fill(bob.username.slice(0, 6));
  await a.page.getByRole("button", { name: `Message ${bob.username}` }).click();
  await a.page.getByRole("heading", { name: bob.name, level: 1 }).waitFor({ timeout: T });

  // Alice writes; her message goes pending -> sent, and Bob sees the chat appear with an unread badge.
  await send(a.page, "Hello Bob, this is Alice!");
  await log(a.page).locator('li.message[data-status="sent"]', { hasText: "Hello Bob, this is Alice!" }).waitFor({ timeout: T });
  const bobsEntry = b.page.getByRole("link", { name: new RegExp(`^${alice.name}.*1 unread`) });
  await bobsEntry.waitFor({ timeout: T }).catch(async (e) => {
    console.log("chat list:", await b.page.locator(".chat-list").innerHTML().catch(() => "none"));
    throw e;
  });

  // Bob opens it: the message is there, and Alice sees it was read.
  await shot(b.page, "1-bob-list-unread");
  await bobsEntry.click();
  await log(b.page).getByText("Hello Bob, this is Alice!").waitFor({ timeout: T });
  await log(a.page).getByText("Seen").waitFor({ timeout: T });

  // Typing indicator, then Bob's reply appears in Alice's window in real time.
  await b.page.getByRole("textbox", { name: "Message" }).pressSequentially("Hi", { delay: 20 });
  await a.page.getByText(`${bob.name} is typing…`).waitFor({ timeout: T });
  await shot(a.page, "2-alice-typing");
  await b.page.getByRole("textbox", { name: "Message" }).fill("");
  await send(b.page, "Hi Alice, Bob here.");
  await log(a.page).getByText("Hi Alice, Bob here.").waitFor({ timeout: T });
  await log(b.page).locator('li.message[data-status="sent"]', { hasText: "Hi Alice, Bob here." }).waitFor({ timeout: T });

  // Bob drops off the network; Alice writes twice; Bob comes back and gets both, once each, in order.
  await b.context.setOffline(true);
  await b.page.locator('.connection[data-status="offline"]').waitFor({ timeout: T });
  await send(a.page, "Are you there? (1)");
  await send(a.page, "Are you there? (2)");
  await log(a.page).locator('li.message[data-status="sent"]', { hasText: "Are you there? (2)" }).waitFor({ timeout: T });
  await b.context.setOffline(false);
  await log(b.page).getByText("Are you there? (2)").waitFor({ timeout: T });
  await b.page.locator('.connection[data-status="live"]').waitFor({ state: "attached", timeout: T });
  const seqs = await seqsOf(b.page);
  assert.deepEqual(seqs, ["1", "2", "3", "4"], "every message exactly once, in seq order");
  assert.deepEqual(await seqsOf(a.page), ["1", "2", "3", "4"]);

  // Bob writes while offline: it waits as pending and is delivered once when he is back.
  await b.context.setOffline(true);
  await b.page.locator('.connection[data-status="offline"]').waitFor({ timeout: T });
  await send(b.page, "Written offline");
  await log(b.page).locator('li.message[data-status="pending"]', { hasText: "Written offline" }).waitFor({ timeout: T });
  await shot(b.page, "3-bob-offline-pending");
  await b.context.setOffline(false);
  await log(b.page).locator('li.message[data-status="sent"]', { hasText: "Written offline" }).waitFor({ timeout: T });
  await log(a.page).getByText("Written offline").waitFor({ timeout: T });
  assert.deepEqual(await seqsOf(a.page), ["1", "2", "3", "4", "5"]);

  // History: 70 more messages (from Alice's other device, over REST); Bob reloads, sees the
  // newest page, and scrolling up loads older pages (`before`) until the beginning.
  const chatId = new URL(b.page.url()).pathname.split("/").pop();
  const login = await fetch(`${server.base}/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ login: alice.username, password: alice.password }),
  }).then((r) => r.json());
  for (let i = 1; i <= 70; i++) {
    const r = await fetch(`${server.base}/v1/chats/${chatId}/messages`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${login.access_token}` },
      body: JSON.stringify({ client_msg_id: `seed-${suffix}-${i}`, text: `history ${i}` }),
    });
    assert.equal(r.status, 201);
  }
  await log(a.page).getByText("history 70", { exact: true }).waitFor({ timeout: T });
  await b.page.reload();
  await log(b.page).getByText("history 70", { exact: true }).waitFor({ timeout: T });
  const beginning = b.page.getByText("Beginning of the conversation");
  for (let i = 0; i < 10 && !(await beginning.isVisible()); i++) {
    await b.page.getByLabel("Message history").evaluate((el) => el.scrollTo(0, 0));
    await b.page.waitForTimeout(300);
  }
  await beginning.waitFor({ timeout: T });
  const all = await seqsOf(b.page);
  assert.deepEqual(all, Array.from({ length: 75 }, (_, i) => String(i + 1)), "the whole history, once, in order");

  // The server restarts under both of them: Alice's message written meanwhile waits, both
  // reconnect with backoff and resume, and it arrives exactly once on both sides.
  const port = new URL(server.base).port;
  await server.stop();
  await a.page.locator('.connection[data-status="backoff"]').waitFor({ state: "attached", timeout: T });
  await send(a.page, "Sent during the restart");
  await log(a.page).locator('li.message[data-status="pending"]', { hasText: "Sent during the restart" }).waitFor({ timeout: T });
  server = await startServer({ dsn: db.dsn, port: Number(port), dataDir });
  await log(a.page).locator('li.message[data-status="sent"]', { hasText: "Sent during the restart" }).waitFor({ timeout: T });
  await log(b.page).getByText("Sent during the restart").waitFor({ timeout: T });
  const expected = Array.from({ length: 76 }, (_, i) => String(i + 1));
  assert.deepEqual(await seqsOf(b.page), expected);
  assert.deepEqual((await seqsOf(a.page)).slice(-3), ["74", "75", "76"]);

  // Alice edits that message, then deletes it; Bob sees both live.
  // (edit and delete live in the message's actions menu)
  const last = log(a.page).locator("li.message", { hasText: "Sent during the restart" });
  await last.hover();
  await last.getByRole("button", { name: "Message actions" }).click();
  await a.page.getByRole("menuitem", { name: "Edit", exact: true }).click();
  const editBox = a.page.getByRole("textbox", { name: "Edit message" });
  await editBox.fill("Edited after the restart");
  await editBox.press("Enter");
  await log(b.page).locator("li.message", { hasText: "Edited after the restart" }).getByText("· edited").waitFor({ timeout: T });
  a.page.once("dialog", (d) => void d.accept());
  const edited = log(a.page).locator("li.message", { hasText: "Edited after the restart" });
  await edited.hover();
  await edited.getByRole("button", { name: "Message actions" }).click();
  await a.page.getByRole("menuitem", { name: "Delete", exact: true }).click();
  await log(b.page).locator('li.message[data-seq="76"]').getByText("Message deleted").waitFor({ timeout: T });

  // Bob attaches a picture: it is uploaded to the server's store, sent with his message, and
  // shown inline to Alice (same-origin download URL, allowed by the CSP).
  const png = Buffer.from(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
    "base64",
  );
  await b.page.getByLabel("Attach files").setInputFiles({ name: "dot.png", mimeType: "image/png", buffer: png });
  await b.page.locator(".chip", { hasText: "dot.png" }).filter({ hasNotText: "uploading" }).waitFor({ timeout: T });
  await send(b.page, "A picture");
  await log(a.page).getByRole("img", { name: "dot.png" }).waitFor({ timeout: T });
  await log(b.page).locator('li.message[data-status="sent"]', { hasText: "A picture" }).waitFor({ timeout: T });

  // Phone width: the open chat takes the whole screen and offers a way back.
  await a.page.setViewportSize({ width: 375, height: 740 });
  await shot(a.page, "4-alice-phone-chat");
  await a.page.getByRole("link", { name: "Back to chats" }).click();
  await a.page.getByRole("heading", { name: "Chats", level: 1 }).waitFor({ timeout: T });
  await shot(a.page, "5-alice-phone-list");

  for (const p of [a, b]) {
    assert.deepEqual(p.external, [], "no request leaves the server's origin");
    assert.deepEqual(p.problems, [], "no page errors");
  }
  await a.context.close();
  await b.context.close();
});

test("a forgotten password is reset by the emailed link, a group is created, the profile signs out", async () => {
  const carol = { email: `carol-${suffix}@example.test`, username: `carol_${suffix}`, name: "Carol Tester", password: "first password 1" };
  const c = await newPage();
  await register(c.page, carol);

  await c.page.goto("/login");
  await c.page.getByRole("link", { name: "Forgot your password?" }).click();
  await c.page.getByLabel("Email", { exact: true }).fill(carol.email);
  await c.page.getByRole("button", { name: "Send reset link" }).click();
  await c.page.getByText("a link to reset the password is on its way").waitFor({ timeout: T });
  const link = await linkFromOutbox(dataDir, carol.email, "/reset-password?token=");
  await c.page.goto(link);
  await c.page.getByLabel("New password", { exact: true }).fill("second password 2");
  await c.page.getByLabel("Repeat the new password").fill("second password 2");
  await c.page.getByRole("button", { name: "Change password" }).click();
  await c.page.getByText("Your password was changed").waitFor({ timeout: T });

  // the old password no longer works, the new one does
  await c.page.goto("/login");
  await c.page.getByLabel("Email or username").fill(carol.email);
  await c.page.getByLabel("Password", { exact: true }).fill(carol.password);
  await c.page.getByRole("button", { name: "Sign in" }).click();
  await c.page.getByText("Wrong email/username or password.").waitFor({ timeout: T });
  await c.page.getByLabel("Password", { exact: true }).fill("second password 2");
  await c.page.getByRole("button", { name: "Sign in" }).click();
  await c.page.getByRole("heading", { name: "Chats", level: 1 }).waitFor({ timeout: T });

  // a group with the two people of the first test
  await c.page.getByRole("button", { name: "New chat" }).click();
  for (const who of [alice, bob]) {
    await c.page.getByLabel("Find people").fill(who.username);
    await c.page.getByRole("listitem").filter({ hasText: `@${who.username}` }).getByRole("button", { name: "Add to group" }).click();
  }
  await c.page.getByLabel("Group name").fill("Team");
  await c.page.getByRole("button", { name: "Create group" }).click();
  await c.page.getByRole("heading", { name: "Team", level: 1 }).waitFor({ timeout: T });
  await c.page.getByText("3 members").waitFor({ timeout: T });
  await send(c.page, "Hello team");
  await log(c.page).locator('li.message[data-status="sent"]', { hasText: "Hello team" }).waitFor({ timeout: T });

  // profile: edit the display name, see this device among the sessions, sign out
  await c.page.getByRole("link", { name: "Profile" }).click();
  await c.page.getByRole("heading", { name: "Profile", level: 1 }).waitFor({ timeout: T });
  await c.page.getByText("(this device)").waitFor({ timeout: T });
  await c.page.getByLabel("Display name").fill("Caroline");
  await c.page.getByRole("button", { name: "Save" }).click();
  await c.page.getByText("Saved.").waitFor({ timeout: T }).catch(async (e) => {
    await shot(c.page, "profile-failure");
    console.log(await c.page.locator("main").innerText());
    throw e;
  });
  await c.page.getByRole("button", { name: "Sign out" }).last().click();
  await c.page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor({ timeout: T });
  await c.page.goto("/chats");
  await c.page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor({ timeout: T });
  assert.deepEqual(c.problems, []);
  assert.deepEqual(c.external, []);
  await c.context.close();
});
