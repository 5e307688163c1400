// The `relay` command (`deno task relay ...`, the compiled dist/relay): the
// CLI over the composition root. To embed a relay or use the SDKs, import
// mod.ts instead.
import { runCli } from "./cli/cli.ts";
import { cliWiring } from "./compose/cli_wiring.ts";

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, cliWiring));
}
