// Runs a system command (ip, iptables, nft) to completion; a failure throws
// with the command line and what it printed on stderr.

export class CommandError extends Error {
  constructor(message: string, readonly notFound = false) {
    super(message);
    this.name = "CommandError";
  }
}

/** The command's stdout; throws CommandError on a non-zero exit or when missing. */
export async function runCommand(
  command: string,
  args: string[],
): Promise<string> {
  const line = [command, ...args].join(" ");
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw new CommandError(
      `${line}: ${(error as Error).message}`,
      error instanceof Deno.errors.NotFound,
    );
  }
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  if (!output.success) {
    throw new CommandError(
      `${line}: exit ${output.code}: ${decode(output.stderr)}`,
    );
  }
  return decode(output.stdout);
}
