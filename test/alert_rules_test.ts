// The alert rules in deploy/prometheus/: promtool accepts them and their unit
// tests pass (each alert fires on the series that should raise it), and every
// metric and label they name is one a running relay really exports.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { encode, startTestRelay } from "./harness.ts";
import { PROMTOOL, SystemTools } from "./system_tools.ts";

const RULES_DIR = fileURLToPath(
  new URL("../deploy/prometheus/", import.meta.url),
);
const tools = await SystemTools.check(PROMTOOL);
/** Labels Prometheus adds to every scraped series, not the relay. */
const TARGET_LABELS = new Set(["instance", "job"]);
/** Series Prometheus makes itself. */
const PROMETHEUS_SERIES = new Set(["up"]);
const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"];

tools.test("alert rules: promtool check rules, test rules and check config (deploy/prometheus.yml) pass", async () => {
  for (
    const [cwd, args] of [
      [RULES_DIR, ["check", "rules", "relay_rules.yml"]],
      [RULES_DIR, ["test", "rules", "relay_rules_test.yml"]],
      // The example Prometheus config loads them.
      [`${RULES_DIR}/..`, ["check", "config", "prometheus.yml"]],
    ] as const
  ) {
    const output = await new Deno.Command(tools.path("promtool"), {
      args: [...args],
      cwd,
    }).output();
    const text = new TextDecoder().decode(output.stdout) +
      new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `promtool ${args.join(" ")}:\n${text}`);
    assert.match(text, /SUCCESS/);
  }
});

Deno.test("alert rules: every metric and label they name is exported by a running relay", async () => {
  const relay = await startTestRelay();
  try {
    // Some traffic, so that labelled series exist too.
    await relay.device("rules-dev");
    await relay.controller(undefined, { e2e: false }).openSession("rules-dev")
      .call("echo", encode("x"));
    const response = await fetch(
      `http://127.0.0.1:${relay.relay.healthPort}/metrics`,
    );
    const exposition = await response.text();
    const exported = new Set(
      [...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(
        ([, name, type]) =>
          type === "histogram"
            ? [name!, ...HISTOGRAM_SUFFIXES.map((suffix) => name + suffix)]
            : [name!],
      ),
    );
    const labelsOf = (name: string): string[] => {
      const base = HISTOGRAM_SUFFIXES.reduce(
        (n, suffix) => n.endsWith(suffix) ? n.slice(0, -suffix.length) : n,
        name,
      );
      const metric = relay.relay.core.metrics.registry.getSingleMetric(base) as
        | { labelNames?: string[] }
        | undefined;
      return [
        ...(metric?.labelNames ?? []),
        ...(name.endsWith("_bucket") ? ["le"] : []),
      ];
    };

    const rules = parse(
      await Deno.readTextFile(`${RULES_DIR}/relay_rules.yml`),
    ) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const problems: string[] = [];
    let checked = 0;
    for (const rule of rules.groups.flatMap((group) => group.rules)) {
      const names: string[] = [];
      for (
        const [, name, matchers] of rule.expr.matchAll(
          /\b([a-z_][a-z0-9_]*)\s*(?:\{([^}]*)\})?/g,
        )
      ) {
        if (!name!.startsWith("relay_") && !PROMETHEUS_SERIES.has(name!)) {
          continue;
        }
        checked++;
        if (PROMETHEUS_SERIES.has(name!)) continue;
        names.push(name!);
        if (!exported.has(name!)) {
          problems.push(`${rule.alert}: no metric ${name}`);
          continue;
        }
        for (
          const [, label] of (matchers ?? "").matchAll(
            /(\w+)\s*(?:=~|!~|!=|=)/g,
          )
        ) {
          if (!TARGET_LABELS.has(label!) && !labelsOf(name!).includes(label!)) {
            problems.push(`${rule.alert}: ${name} has no label ${label}`);
          }
        }
      }
      // Labels aggregated by must be on some metric of the expression.
      for (const [, list] of rule.expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
        for (const label of list!.split(",").map((l) => l.trim())) {
          if (
            !TARGET_LABELS.has(label) &&
            !names.some((name) => labelsOf(name).includes(label))
          ) {
            problems.push(`${rule.alert}: no metric of it has label ${label}`);
          }
        }
      }
    }
    assert.ok(
      checked >= rules.groups[0]!.rules.length,
      "metrics found in rules",
    );
    assert.deepEqual(problems, []);
  } finally {
    await relay.close();
  }
});
