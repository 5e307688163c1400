// Headless Chromium for the browser tests (Debian's package, driven by
// playwright-core), and the demo page's status line.
import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Chromium with a fresh profile (Playwright passes it as --user-data-dir). */
export function launchChromium(
  executablePath: string,
  profile: string,
  timeoutMs: number,
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true, // adds --headless
    timeout: timeoutMs,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // No --disable-quic: WebTransport runs over QUIC.
    ],
  });
}

/** Waits until the demo page's status line matches. */
export async function waitForStatus(
  page: Page,
  pattern: RegExp,
): Promise<void> {
  try {
    await page.locator("#status", { hasText: pattern }).waitFor();
  } catch (error) {
    const text = await page.textContent("#status").catch(() => "?");
    throw new Error(`status never matched ${pattern}; it says "${text}"`, {
      cause: error,
    });
  }
}

/** Clears the status line, so the next wait sees the next action's outcome. */
export async function clearStatus(page: Page): Promise<void> {
  await page.evaluate('document.getElementById("status").textContent = ""');
}
