import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The server (messenger serve) serves dist/ at "/"; `npm run dev` proxies the API to it.
const api = process.env.MESSENGER_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
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
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
