/*
 * The service worker (dist/sw.js, written at build time by pwa/plugins.ts, which fills in the
 * precache list and the version). What it does:
 * - precaches the app shell (index.html as "/"), this build's hashed assets, the manifest and
 *   icons, so the app starts without a network and a deploy is picked up as a new version;
 * - navigations to app pages: the precached shell at once (no round trip before the app starts
 *   on a slow network); a new deploy installs a new worker, whose shell the next visit gets. The
 *   app then shows the chats it saved, and read-only while there is no network;
 * - hashed assets and icons: cache first (they never change under a given name);
 * - the API (/v1/..., the WebSocket, the operations endpoints): never touched and never cached.
 *   Responses there are private to one user and carry short-lived download URLs; the browser's
 *   own network stack answers them, so a cached stale answer can never be shown as live.
 */
const PRECACHE = self.__PRECACHE__;
const VERSION = self.__VERSION__;
const CACHE = `shell-${VERSION}`;
const SERVER_PATHS = new Set(["/v1", "/healthz", "/readyz", "/metrics", "/openapi.json", "/asyncapi.json", "/sw.js"]);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE.map((path) => new Request(path, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (SERVER_PATHS.has(url.pathname) || url.pathname.startsWith("/v1/")) return;
  // an app page has no dot in its last segment (the server's rule too); anything else is a file
  if (request.mode === "navigate" && !url.pathname.split("/").pop().includes(".")) {
    event.respondWith(
      caches
        .open(CACHE)
        .then((cache) => cache.match("/"))
        .then((shell) => shell || fetch(request)),
    );
    return;
  }
  if (url.pathname.startsWith("/assets/") || PRECACHE.includes(url.pathname)) {
    event.respondWith(
      caches
        .open(CACHE)
        .then((cache) => cache.match(request, { ignoreSearch: true }))
        .then((hit) => hit || fetch(request)),
    );
  }
});
