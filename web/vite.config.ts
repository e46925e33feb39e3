import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";
import { compress, serviceWorker } from "./pwa/plugins";

// The server (messenger serve) serves dist/ at "/"; `npm run dev` proxies the API to it.
const api = process.env.MESSENGER_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react(), serviceWorker(), compress()],
  resolve: {
    // Preact's React-compatible layer instead of react-dom: React 19's renderer alone is 68 KB
    // gzip, which leaves no room under the 70 KB budget for first-load JavaScript on slow
    // networks. Components are still written (and type-checked) against React's API.
    alias: [
      { find: /^react-dom\/client$/, replacement: "preact/compat/client" },
      { find: /^react-dom$/, replacement: "preact/compat" },
      { find: /^react\/jsx-runtime$/, replacement: "preact/jsx-runtime" },
      { find: /^react\/jsx-dev-runtime$/, replacement: "preact/jsx-runtime" },
      { find: /^react$/, replacement: "preact/compat" },
    ],
  },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    // Everything is self-hosted: no inline scripts (the server's CSP forbids them).
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      "/v1/ws": { target: api.replace(/^http/, "ws"), ws: true },
      "/v1": api,
    },
  },
  test: {
    include: ["src/**/*.test.ts", "pwa/**/*.test.ts"],
    environment: "node",
  },
});
