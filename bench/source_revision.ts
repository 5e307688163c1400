// Which code was measured: the git commit of the repository, flagged when
// src/, transports/ or proto/ have uncommitted changes. "unknown" without git.
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

export async function sourceRevision(): Promise<string> {
  const head = await git(["rev-parse", "--short", "HEAD"]);
  if (head === null) return "unknown";
  const status = await git([
    "status",
    "--porcelain",
    "--",
    "src",
    "transports",
    "proto",
  ]);
  const changed = status === null
    ? 0
    : status.split("\n").filter((line) => line.trim() !== "").length;
  return changed === 0 ? head : `${head}+${changed}-uncommitted`;
}

async function git(args: string[]): Promise<string | null> {
  try {
    const output = await new Deno.Command("git", {
      args: ["-C", REPO_ROOT, ...args],
      stdout: "piped",
      stderr: "null",
    }).output();
    return output.success
      ? new TextDecoder().decode(output.stdout).trim()
      : null;
  } catch (_error) {
    return null; // git not installed or not allowed: the revision is unknown
  }
}
