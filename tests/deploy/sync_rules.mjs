// The PrometheusRule in deploy/kubernetes/components/prometheus-operator carries the same groups
// as deploy/prometheus/tapstack-rules.yml. This checks that they are equal (exit 1 if not);
// with --write it regenerates the PrometheusRule's spec from the rules file first.
// Usage: node sync_rules.mjs [--write]
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { parse } from "yaml";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const rulesPath = join(root, "deploy/prometheus/tapstack-rules.yml");
const crPath = join(root, "deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml");

if (process.argv.includes("--write")) {
  // Keep the header comments and metadata; the spec is the rules file's `groups:` indented.
  const rules = readFileSync(rulesPath, "utf8").split("\n");
  const cr = readFileSync(crPath, "utf8").split("\n");
  const groups = rules.slice(rules.indexOf("groups:"));
  const spec = cr.indexOf("spec:");
  const body = groups.map((l) => (l ? `  ${l}` : l)).join("\n").trimEnd();
  writeFileSync(crPath, `${cr.slice(0, spec + 1).join("\n")}\n${body}\n`);
}

const rules = parse(readFileSync(rulesPath, "utf8"));
const cr = parse(readFileSync(crPath, "utf8"));
if (!isDeepStrictEqual(rules.groups, cr.spec?.groups)) {
  console.log(`FAIL ${crPath} differs from ${rulesPath}; run: node tests/deploy/sync_rules.mjs --write`);
  process.exit(1);
}
console.log(`ok   PrometheusRule groups equal ${rulesPath}`);
