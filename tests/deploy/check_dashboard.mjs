// Structural checks of the Grafana dashboard and its provisioning file:
//   - the data source is a variable (type datasource, Prometheus) that every panel and query uses;
//   - every range function uses $__rate_interval, never a fixed window;
//   - the panels the issue asks for are there (handshake rate, SYN cookies sent/validated/failed,
//     backlog depth for both queues per listener, drops by reason, handshake p50/p99,
//     retransmits, resets; the kernel cookie path's SYN-ACKs and ACKs passed/refused per
//     listener, and each listener's cookie mode; data throughput, data retransmissions by kind
//     (fast retransmits, RTO expiries, RACK losses and tail loss probes); admission refusals
//     per listener and reason, and admissions per listener);
//   - panel ids are unique and panels fit the 24-column grid;
//   - the provisioning file is a file provider.
//   - with --promql-rules FILE: writes every query, Grafana variables replaced by plain values,
//     as recording rules to FILE so that `promtool check rules FILE` parses them as PromQL.
// Usage: node check_dashboard.mjs DASHBOARD.json PROVISIONING.yaml [--promql-rules FILE]
import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";

const args = process.argv.slice(2);
const promqlAt = args.indexOf("--promql-rules");
const promqlRules = promqlAt >= 0 ? args.splice(promqlAt, 2)[1] : undefined;
const [dashboardPath, provisioningPath] = args;
if (!dashboardPath || !provisioningPath) {
  console.error("usage: node check_dashboard.mjs DASHBOARD.json PROVISIONING.yaml");
  process.exit(2);
}
const problems = [];
const fail = (message) => problems.push(message);

const dashboard = JSON.parse(readFileSync(dashboardPath, "utf8"));
if (!dashboard.uid || !dashboard.title) fail("dashboard needs a uid and a title");

const variables = dashboard.templating?.list ?? [];
const dsVariable = variables.find((v) => v.type === "datasource");
if (!dsVariable || dsVariable.query !== "prometheus") {
  fail("no data source variable of type datasource for prometheus");
}
const dsRef = `\${${dsVariable?.name ?? "datasource"}}`;
for (const v of variables.filter((v) => v.type === "query")) {
  if (v.datasource?.uid !== dsRef) fail(`variable ${v.name} does not use the data source variable`);
}

// Panels, rows' nested panels included.
const panels = [];
for (const p of dashboard.panels ?? []) {
  panels.push(p);
  for (const nested of p.panels ?? []) panels.push(nested);
}
const ids = new Set();
const queries = [];
for (const p of panels) {
  if (ids.has(p.id)) fail(`panel id ${p.id} is used twice`);
  ids.add(p.id);
  const g = p.gridPos;
  if (!g || g.x < 0 || g.w < 1 || g.x + g.w > 24) fail(`panel "${p.title}" is off the grid`);
  if (p.type === "row") continue;
  if (p.datasource?.uid !== dsRef) fail(`panel "${p.title}" does not use ${dsRef}`);
  if (!p.targets?.length) fail(`panel "${p.title}" has no queries`);
  for (const t of p.targets ?? []) {
    if (t.datasource?.uid !== dsRef) fail(`a query of "${p.title}" does not use ${dsRef}`);
    if (!t.expr) {
      fail(`a query of "${p.title}" has no expr`);
      continue;
    }
    queries.push({ panel: p.title, expr: t.expr });
    // Every range vector: [$__rate_interval] only.
    for (const m of t.expr.matchAll(/\[([^\]]*)\]/g)) {
      if (m[1] !== "$__rate_interval") fail(`"${p.title}": range [${m[1]}] instead of [$__rate_interval]`);
    }
    if (/\b(rate|irate|increase)\(/.test(t.expr) && !t.expr.includes("[$__rate_interval]")) {
      fail(`"${p.title}": a rate without [$__rate_interval]`);
    }
  }
}

// What the dashboard must show: [what, predicate over one query's expr].
const required = [
  ["handshake rate", (e) => e.includes("tapstack_passive_opens_total") && e.includes("rate(")],
  ["SYN cookies sent", (e) => e.includes("tapstack_syncookies_sent_total")],
  ["SYN cookies validated", (e) => e.includes("tapstack_syncookies_validated_total")],
  ["SYN cookies failed", (e) => e.includes("tapstack_syncookies_failed_total")],
  ["SYN queue depth per listener",
   (e) => e.includes("tapstack_listen_backlog_depth") && e.includes('queue="syn"') && !/\bsum\b/.test(e)],
  ["accept queue depth per listener",
   (e) => e.includes("tapstack_listen_backlog_depth") && e.includes('queue="accept"') && !/\bsum\b/.test(e)],
  ["drops by reason", (e) => e.includes("tapstack_dropped_packets_total") && /by \(reason\)/.test(e)],
  ["handshake latency p50",
   (e) => e.includes("histogram_quantile(0.5,") && e.includes("tapstack_handshake_duration_seconds_bucket")],
  ["handshake latency p99",
   (e) => e.includes("histogram_quantile(0.99,") && e.includes("tapstack_handshake_duration_seconds_bucket")],
  ["retransmits", (e) => e.includes("tapstack_syn_retransmits_total")],
  ["resets", (e) => e.includes("tapstack_resets_sent_total")],
  ["kernel-path SYN-ACKs per listener",
   (e) => e.includes("tapstack_kernel_cookie_synacks_total") && /by \([^)]*\bport\b/.test(e)],
  ["kernel-path ACKs passed per listener",
   (e) => e.includes("tapstack_kernel_cookie_acks_passed_total") && /by \([^)]*\bport\b/.test(e)],
  ["kernel-path ACKs refused per listener",
   (e) => e.includes("tapstack_kernel_cookie_acks_refused_total") && /by \([^)]*\bport\b/.test(e)],
  ["cookie mode per listener",
   (e) => e.includes("tapstack_listener_cookie_mode") && /by \([^)]*\bport\b/.test(e)],
  ["data throughput", (e) => e.includes("tapstack_data_bytes_sent_total") && e.includes("rate(")],
  ["fast retransmits", (e) => e.includes("tapstack_fast_retransmits_total")],
  ["RTO expiries", (e) => e.includes("tapstack_retransmit_timeouts_total")],
  ["RACK losses", (e) => e.includes("tapstack_rack_lost_segments_total")],
  ["tail loss probes", (e) => e.includes("tapstack_tlp_probes_sent_total")],
  ["admission refusals per listener and reason",
   (e) => e.includes("tapstack_listener_syns_refused_total") && /by \([^)]*\blistener\b[^)]*\breason\b/.test(e)],
  ["admitted SYNs per listener",
   (e) => e.includes("tapstack_listener_syns_admitted_total") && /by \([^)]*\blistener\b/.test(e)],
];
for (const [what, test] of required) {
  if (!queries.some((q) => test(q.expr))) fail(`no panel shows ${what}`);
}

const provisioning = parse(readFileSync(provisioningPath, "utf8"));
const providers = provisioning?.providers ?? [];
if (provisioning?.apiVersion !== 1 || !providers.length) fail("provisioning: apiVersion 1 with providers");
for (const p of providers) {
  if (p.type !== "file" || !p.options?.path) fail(`provisioning: provider ${p.name} is not a file provider with a path`);
}

if (promqlRules) {
  const plain = (expr) => expr
    .replaceAll("$__rate_interval", "1m")
    .replace(/\$\{?(\w+)\}?/g, ".*");
  const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: plain(q.expr) }));
  writeFileSync(promqlRules, JSON.stringify({ groups: [{ name: "dashboard", rules }] }, null, 2));
}

for (const p of problems) console.log(`FAIL ${dashboardPath}: ${p}`);
console.log(`${panels.length} panels, ${queries.length} queries, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
