// `relay ctl watch` as a real process against the relay's embedded broker:
// the retained presence snapshot first, then live events.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startTestRelay } from "./harness.ts";
import { withDeadline } from "./with_deadline.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

/** Reads lines from the watcher until `pattern` appears. */
async function lineMatching(
  lines: AsyncIterator<string>,
  pattern: RegExp,
  seen: string[],
): Promise<string> {
  for (;;) {
    const next = await lines.next();
    if (next.done) throw new Error(`watch ended before ${pattern}: ${seen}`);
    seen.push(next.value);
    if (pattern.test(next.value)) return next.value;
  }
}

Deno.test("ctl watch prints the present fleet, then online and offline events", async () => {
  const t = await startTestRelay();
  const watcher = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "ctl", "watch", "--mqtt", t.mqttUrl],
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  });
  let child: Deno.ChildProcess | undefined;
  try {
    assert.notEqual(t.mqttUrl, "", "the harness relay runs a broker");
    const early = await t.device("watch-early");
    child = watcher.spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream())
      .pipeThrough(splitLines())[Symbol.asyncIterator]();
    const seen: string[] = [];
    await withDeadline(
      lineMatching(lines, /^present watch-early state=online\b/, seen),
      15_000,
      "retained presence line",
    );
    const late = await t.device("watch-late");
    await withDeadline(
      lineMatching(lines, /^online watch-late\b.*transport=h2/, seen),
      10_000,
      "online event",
    );
    await late.close();
    await withDeadline(
      lineMatching(lines, /^offline watch-late reason=graceful\b/, seen),
      10_000,
      "offline event",
    );
    await early.close();
  } finally {
    child?.kill("SIGINT");
    await child?.status;
    await t.close();
  }
});

function splitLines(): TransformStream<string, string> {
  let buffer = "";
  return new TransformStream({
    transform(chunk, controller) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      for (const line of parts) controller.enqueue(line);
    },
  });
}
