// Debian's Chromium as every browser test starts it: headless, with nothing that reaches the
// network on its own, and *.test names mapped to 127.0.0.1.
import { chromium } from "playwright-core";

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--host-resolver-rules=MAP *.test 127.0.0.1",
];

/// Launches Chromium with the flags above and `extra` ones.
export function launch(extra = []) {
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  return chromium.launch({ executablePath, args: [...CHROMIUM_FLAGS, ...extra] });
}
