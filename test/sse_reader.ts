// Server-sent events read from a fetch body, for tests of the console's live
// stream: `next(name)` waits (bounded) for the next event of that name.
/** Reads server-sent events from a fetch body. */
export function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const pending: [string, Record<string, unknown>][] = [];
  let done = false;
  const fill = async () => {
    const { value, done: end } = await reader.read();
    if (end) {
      done = true;
      return;
    }
    buffer += value;
    let at;
    while ((at = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      const name = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (name && data) pending.push([name, JSON.parse(data)]);
    }
  };
  return {
    async next(
      name: string,
      timeoutMs = 3000,
    ): Promise<Record<string, unknown>> {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        const event = pending.shift();
        if (event) {
          if (event[0] === name) return event[1];
          continue; // another kind of event: not the one awaited
        }
        const left = deadline - Date.now();
        if (done || left <= 0) throw new Error(`no ${name} event`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          fill(),
          new Promise((resolve) => timer = setTimeout(resolve, left)),
        ]).finally(() => clearTimeout(timer));
      }
    },
    async ended(): Promise<boolean> {
      while (!done) await fill();
      return true;
    },
  };
}
