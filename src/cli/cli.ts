// `deno task relay <subcommand>`: dispatches to the subcommands and turns
// errors into one clear line and a non-zero exit code.
import { RelayError } from "../errors/relay_error.ts";
import { CTL_USAGE, ctlCommand, DRAIN_USAGE } from "./ctl_command.ts";
import { DEVICE_USAGE, deviceCommand } from "./device_command.ts";
import { SERVE_USAGE, serveCommand } from "./serve_command.ts";
import { TOKEN_USAGE, tokenCommand } from "./token_command.ts";
import type { CliWiring } from "./wiring.ts";

const USAGE = `usage: deno task relay <serve|device|ctl|drain|token> ...

${SERVE_USAGE}

${DEVICE_USAGE}

${CTL_USAGE}

${DRAIN_USAGE}

${TOKEN_USAGE}`;

const SUBCOMMAND_USAGE: Record<string, string> = {
  serve: SERVE_USAGE,
  device: DEVICE_USAGE,
  ctl: CTL_USAGE,
  drain: DRAIN_USAGE,
  token: TOKEN_USAGE,
};

/** `--help` or `-h` anywhere before a `--` separator. */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) =>
    arg === "--help" || arg === "-h"
  );
}

export async function runCli(
  args: string[],
  wiring: CliWiring,
): Promise<number> {
  const [command, ...rest] = args;
  const usage = command === undefined ? undefined : SUBCOMMAND_USAGE[command];
  if (usage !== undefined && asksForHelp(rest)) {
    console.log(`usage: ${usage}`);
    return 0;
  }
  try {
    switch (command) {
      case "serve":
        return await serveCommand(rest, wiring);
      case "device":
        return await deviceCommand(rest, wiring);
      case "ctl":
        return await ctlCommand(rest, wiring);
      case "drain":
        return await ctlCommand(["drain", ...rest], wiring);
      case "token":
        return await tokenCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        console.error(`unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof RelayError) {
      console.error(`error: ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
