// The alert rules in deploy/prometheus/: promtool accepts them and their unit
// tests pass (each alert fires on the series that should raise it). Every
// metric and label they and the Grafana dashboard (deploy/grafana/relay.json)
// name is one a running relay really exports.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { ExportedMetrics } from "./exported_metrics.ts";
import { encode, startTestRelay } from "./harness.ts";
import { PROMTOOL, SystemTools } from "./system_tools.ts";

const RULES_DIR = fileURLToPath(
  new URL("../deploy/prometheus/", import.meta.url),
);
const tools = await SystemTools.check(PROMTOOL);
const DASHBOARD = fileURLToPath(
  new URL("../deploy/grafana/relay.json", import.meta.url),
);

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

Deno.test("alert rules and the Grafana dashboard: every metric and label they name is exported by a running relay", async () => {
  const relay = await startTestRelay();
  try {
    // Some traffic, so that labelled series exist too.
    await relay.device("rules-dev");
    await relay.controller(undefined, { e2e: false }).openSession("rules-dev")
      .call("echo", encode("x"));
    const response = await fetch(
      `http://127.0.0.1:${relay.relay.healthPort}/metrics`,
    );
    const exported = new ExportedMetrics(
      await response.text(),
      relay.relay.core.metrics.registry,
    );
    const rules = parse(
      await Deno.readTextFile(`${RULES_DIR}/relay_rules.yml`),
    ) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const dashboard = JSON.parse(await Deno.readTextFile(DASHBOARD)) as {
      panels: { title: string; targets: { expr: string }[] }[];
      templating: { list: { name: string; definition?: string }[] };
    };
    const expressions = [
      ...rules.groups.flatMap((group) =>
        group.rules.map((rule) => ({ where: rule.alert, expr: rule.expr }))
      ),
      ...dashboard.panels.flatMap((panel) =>
        panel.targets.map((target) => ({
          where: panel.title,
          expr: target.expr,
        }))
      ),
      ...dashboard.templating.list.flatMap((variable) =>
        variable.definition
          ? [{ where: `$${variable.name}`, expr: variable.definition }]
          : []
      ),
    ];
    // Every panel queries the relay, and every query names one of its metrics.
    assert.ok(dashboard.panels.length >= 10);
    for (const { where, expr } of expressions) {
      if (where === "RelayDown") continue; // `up` is Prometheus's own
      assert.ok(ExportedMetrics.namedIn(expr).length > 0, `${where}: ${expr}`);
    }
    const problems = expressions.flatMap(({ where, expr }) =>
      exported.problems(expr).map((problem) => `${where}: ${problem}`)
    );
    assert.deepEqual(problems, []);
  } finally {
    await relay.close();
  }
});
