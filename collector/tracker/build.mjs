// Minifies src/tracker.js into dist/script.js, the file the server embeds and serves.
//
// `node build.mjs` writes the file; `node build.mjs --check` only compares, and fails when the
// committed build is not what the source builds to (the test suite runs that).
import { readFile, writeFile } from "node:fs/promises";
import { minify } from "terser";

const here = new URL(".", import.meta.url);
const source = await readFile(new URL("src/tracker.js", here), "utf8");

export async function build() {
  const { code } = await minify(source, {
    ecma: 2020,
    compress: { passes: 3, unsafe_arrows: true, unsafe_methods: true },
    mangle: true,
    format: { comments: false },
  });
  return code + "\n";
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const built = await build();
  const target = new URL("dist/script.js", here);
  if (process.argv.includes("--check")) {
    const committed = await readFile(target, "utf8").catch(() => "");
    if (committed !== built) {
      console.error("dist/script.js is out of date: run `npm run build` in collector/tracker");
      process.exit(1);
    }
  } else {
    await writeFile(target, built);
    console.log(`dist/script.js: ${built.length} bytes`);
  }
}
