/**
 * Build steps for the installable app, as Vite plugins (build only):
 * - serviceWorker(): writes dist/sw.js from pwa/sw.js with the list of files to precache (the
 *   hashed assets of this build, the shell, the manifest and icons) and a version derived from it;
 * - compress(): writes `name.br` and `name.gz` beside every compressible file of dist/, which
 *   the server hands out by Accept-Encoding (messenger/webapp.py), so nothing is compressed per
 *   request.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { Plugin, ResolvedConfig } from "vite";

const COMPRESSIBLE = /\.(js|mjs|css|html|svg|json|webmanifest|txt)$/;
const MIN_BYTES = 512; // below this the encoding overhead eats the gain

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

export function serviceWorker(): Plugin {
  let config: ResolvedConfig;
  return {
    name: "messenger-service-worker",
    apply: "build",
    configResolved(c) {
      config = c;
    },
    generateBundle(_options, bundle) {
      const publicFiles = config.publicDir ? walk(config.publicDir).map((p) => relative(config.publicDir, p)) : [];
      const files = [...Object.keys(bundle), ...publicFiles]
        .filter((f) => f !== "index.html" && !f.endsWith(".map"))
        .map((f) => `/${f.split("\\").join("/")}`)
        .sort();
      const precache = ["/", ...files];
      const version = createHash("sha256").update(precache.join("\n")).digest("hex").slice(0, 12);
      const template = readFileSync(resolve(import.meta.dirname, "sw.js"), "utf8");
      const source = template
        .replace("self.__PRECACHE__", JSON.stringify(precache))
        .replace("self.__VERSION__", JSON.stringify(version));
      this.emitFile({ type: "asset", fileName: "sw.js", source });
    },
  };
}

export function compress(): Plugin {
  let outDir = "";
  return {
    name: "messenger-precompress",
    apply: "build",
    configResolved(c) {
      outDir = resolve(c.root, c.build.outDir);
    },
    closeBundle() {
      for (const path of walk(outDir)) {
        if (!COMPRESSIBLE.test(path)) continue;
        const body = readFileSync(path);
        if (body.length < MIN_BYTES) continue;
        writeFileSync(`${path}.gz`, gzipSync(body, { level: 9 }));
        writeFileSync(
          `${path}.br`,
          brotliCompressSync(body, {
            params: {
              [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
              [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
            },
          }),
        );
      }
    },
  };
}
