// Builds the console offline: esbuild bundles src/main.tsx (Preact, TypeScript) into dist/app.js;
// index.html, app.css and the icon are copied beside it. dist/ is what S3 serves in AWS and the local
// gateway serves on this machine. The browser tests' harness (test/harness.tsx: the map and timeline
// on their own) goes to build/, which is never deployed. Fails when the shipped assets, gzipped,
// exceed the budget.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const harness = join(here, "build");
// Everything a browser downloads to show the console, gzipped as API Gateway's clients receive it
// compressed or not: the figure is the page weight's ceiling, not a target.
export const BUDGET_GZIP_BYTES = 40 * 1024;
const SHIPPED = ["index.html", "app.js", "app.css", "favicon.svg"];

const common = {
  bundle: true,
  format: "iife",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning",
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({ ...common, entryPoints: [join(here, "src/main.tsx")], outfile: join(dist, "app.js"), minify: true });
for (const file of ["index.html", "app.css", "favicon.svg"]) copyFileSync(join(here, "src", file), join(dist, file));

rmSync(harness, { recursive: true, force: true });
mkdirSync(harness, { recursive: true });
await build({ ...common, entryPoints: [join(here, "test/harness.tsx")], outfile: join(harness, "harness.js") });
copyFileSync(join(here, "test/harness.html"), join(harness, "index.html"));
copyFileSync(join(dist, "app.css"), join(harness, "app.css"));

const sizes = Object.fromEntries(SHIPPED.map((f) => [f, gzipSync(readFileSync(join(dist, f)), { level: 9 }).length]));
const total = Object.values(sizes).reduce((a, b) => a + b, 0);
writeFileSync(join(harness, "size.json"), JSON.stringify({ gzip_bytes: sizes, total_gzip_bytes: total, budget_gzip_bytes: BUDGET_GZIP_BYTES }, null, 2) + "\n");
console.log(`console_bundle_gzip_bytes=${total} (budget ${BUDGET_GZIP_BYTES}; ${Object.entries(sizes).map(([f, n]) => `${f} ${n}`).join(", ")})`);
if (total > BUDGET_GZIP_BYTES) {
  console.error(`console bundle is ${total} bytes gzipped, over the ${BUDGET_GZIP_BYTES}-byte budget`);
  process.exit(1);
}
