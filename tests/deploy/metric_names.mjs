// Prints every tapstack_* metric name that the dashboard and the alerting rules query (and that
// the rules' annotations tell an operator to look at), one per line, sorted, each followed by a
// tab and where it is used.
// Usage: node metric_names.mjs DASHBOARD.json RULES.yml
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const [dashboardPath, rulesPath] = process.argv.slice(2);
if (!dashboardPath || !rulesPath) {
  console.error("usage: node metric_names.mjs DASHBOARD.json RULES.yml");
  process.exit(2);
}
const uses = new Map();  // name -> Set of places
function collect(text, where) {
  for (const m of String(text).matchAll(/\btapstack_[a-z0-9_]+/g)) {
    if (!uses.has(m[0])) uses.set(m[0], new Set());
    uses.get(m[0]).add(where);
  }
}

const dashboard = JSON.parse(readFileSync(dashboardPath, "utf8"));
const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
for (const p of panels) {
  for (const t of p.targets ?? []) collect(t.expr ?? "", `dashboard "${p.title}"`);
}
for (const v of dashboard.templating?.list ?? []) {
  if (v.type === "query") collect(v.definition ?? v.query?.query ?? v.query ?? "", `dashboard variable ${v.name}`);
}

const rules = parse(readFileSync(rulesPath, "utf8"));
for (const group of rules.groups ?? []) {
  for (const rule of group.rules ?? []) {
    const name = rule.alert ?? rule.record;
    collect(rule.expr, `rule ${name}`);
    for (const text of Object.values(rule.annotations ?? {})) collect(text, `rule ${name} annotation`);
  }
}

for (const name of [...uses.keys()].sort()) console.log(`${name}\t${[...uses.get(name)].join("; ")}`);
