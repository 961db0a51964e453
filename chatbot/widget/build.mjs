// Bundles src/ into one minified script at chatbot/web/widget.js (served at /widget.js).
// `npm run build`; `npm run size` also prints the raw and gzipped size.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const outfile = fileURLToPath(new URL("../web/widget.js", import.meta.url));

// `import STYLES from "./widget.css"` gives the stylesheet as a minified string, which the
// widget adopts in its shadow root.
const cssAsText = {
  name: "css-as-text",
  setup(build) {
    build.onLoad({ filter: /\.css$/ }, async (args) => {
      const source = readFileSync(args.path, "utf8");
      const { code, warnings } = await esbuild.transform(source, { loader: "css", minify: true });
      if (warnings.length) throw new Error(`${args.path}: ${warnings[0].text}`);
      return { contents: `export default ${JSON.stringify(code.trim())};`, loader: "js" };
    });
  },
};

await esbuild.build({
  entryPoints: [fileURLToPath(new URL("src/index.js", import.meta.url))],
  outfile,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  legalComments: "eof",
  banner: { js: "/* chatbot widget: built from chatbot/widget by esbuild; do not edit */" },
  plugins: [cssAsText],
  logLevel: "warning",
});

if (process.argv.includes("--size")) {
  const bytes = readFileSync(outfile);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(`${outfile}: ${kib(bytes.length)}, ${kib(gzipSync(bytes, { level: 9 }).length)} gzipped`);
}
