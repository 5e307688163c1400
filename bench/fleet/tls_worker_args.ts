// The --ca, --cert and --key files of a bench server worker, read; prints the
// usage and exits 2 when one is missing.
import { parseArgs } from "node:util";

export async function tlsWorkerArgs(
  worker: string,
): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      ca: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
    },
  });
  if (!values.ca || !values.cert || !values.key) {
    console.error(`usage: ${worker} --ca FILE --cert FILE --key FILE`);
    Deno.exit(2);
  }
  return {
    caPem: await Deno.readTextFile(values.ca),
    certPem: await Deno.readTextFile(values.cert),
    keyPem: await Deno.readTextFile(values.key),
  };
}
