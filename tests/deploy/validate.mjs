// Validates Kubernetes objects offline, in two passes:
//   1. schema: each object through its kubernetes-models class (the Kubernetes OpenAPI schema;
//      prometheus-operator's CRD schemas for PodMonitor and PrometheusRule): types, required
//      fields, enums, formats;
//   2. unknown fields: the OpenAPI schemas allow extra properties, but the API server rejects them
//      (kubectl's default --validate=strict), so every object is also type-checked as a
//      TypeScript object literal against the same package's interfaces, where a misspelt or
//      misplaced field is an excess-property error.
// Usage: node validate.mjs FILE.yaml... (multi-document YAML; `-` reads standard input)
// Prints one line per object and exits non-zero if any object is invalid.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));

// apiVersion -> the module that holds its models.
function modulePath(apiVersion) {
  if (apiVersion === "monitoring.coreos.com/v1") {
    return "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
  }
  return `kubernetes-models/${apiVersion}`;  // "v1" (core) or "GROUP/VERSION"
}

function readObjects(files) {
  const objects = [];
  for (const file of files) {
    const text = readFileSync(file === "-" ? 0 : file, "utf8");
    parseAllDocuments(text).forEach((doc, index) => {
      if (doc.errors.length) throw new Error(`${file}: document ${index + 1}: ${doc.errors[0].message}`);
      const value = doc.toJS();
      if (value === null || value === undefined) return;  // empty document
      objects.push({ file, index: index + 1, value });
    });
  }
  return objects;
}

function describe(o) {
  const v = o.value;
  return `${o.file}#${o.index} ${v.apiVersion ?? "?"} ${v.kind ?? "?"} ${v.metadata?.name ?? "?"}`;
}

async function schemaPass(objects) {
  let failures = 0;
  for (const o of objects) {
    const { apiVersion, kind } = o.value;
    let model;
    try {
      model = (await import(modulePath(apiVersion)))[kind];
    } catch {
      model = undefined;
    }
    if (typeof model !== "function" || typeof model.prototype.validate !== "function") {
      console.log(`FAIL ${describe(o)}: no schema for ${apiVersion} ${kind}`);
      failures++;
      continue;
    }
    try {
      new model(o.value).validate();
      o.schemaOk = true;
    } catch (e) {
      console.log(`FAIL ${describe(o)}: ${e.message}`);
      failures++;
    }
  }
  return failures;
}

function strictPass(objects) {
  const checked = objects.filter((o) => o.schemaOk);
  if (!checked.length) return 0;
  const lines = [];
  const ranges = [];
  checked.forEach((o, i) => {
    const { apiVersion, kind } = o.value;
    lines.push(`import type { I${kind} as T${i} } from "${modulePath(apiVersion)}/${kind}";`);
  });
  checked.forEach((o, i) => {
    const body = JSON.stringify(o.value, null, 2).split("\n");
    const start = lines.length + 1;
    lines.push(`export const o${i}: T${i} = ${body[0]}`, ...body.slice(1));
    lines[lines.length - 1] += ";";
    ranges.push({ start, end: lines.length, object: o });
  });
  const dir = mkdtempSync(join(here, ".tmp-validate-"));
  try {
    writeFileSync(join(dir, "objects.ts"), lines.join("\n") + "\n");
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, skipLibCheck: true, target: "es2022",
        module: "nodenext", moduleResolution: "nodenext", types: [],
      },
      files: ["objects.ts"],
    }));
    const tsc = join(here, "node_modules", "typescript", "bin", "tsc");
    let output = "";
    try {
      execFileSync(process.execPath, [tsc, "-p", dir, "--pretty", "false"], { encoding: "utf8" });
    } catch (e) {
      output = `${e.stdout ?? ""}${e.stderr ?? ""}`;
      if (!output.trim()) throw e;
    }
    let failures = 0;
    for (const line of output.split("\n")) {
      const m = line.match(/objects\.ts\((\d+),(\d+)\): error (TS\d+: .*)/);
      if (!m) {
        if (line.trim() && !line.startsWith(" ")) console.log(`tsc: ${line}`);
        continue;
      }
      const at = Number(m[1]);
      const range = ranges.find((r) => at >= r.start && at <= r.end);
      console.log(`FAIL ${range ? describe(range.object) : "?"}: ${m[3]}`);
      if (range) range.object.strictFailed = true;
      failures++;
    }
    if (output.trim() && !failures) {
      console.log(output);
      failures = 1;
    }
    return failures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const files = process.argv.slice(2);
if (!files.length) {
  console.error("usage: node validate.mjs FILE.yaml...");
  process.exit(2);
}
const objects = readObjects(files);
if (!objects.length) {
  console.log("FAIL no Kubernetes objects found");
  process.exit(1);
}
const failures = (await schemaPass(objects)) + strictPass(objects);
for (const o of objects) {
  if (o.schemaOk && !o.strictFailed) console.log(`ok   ${describe(o)}`);
}
console.log(`${objects.length} objects, ${failures} problems`);
process.exit(failures ? 1 : 0);
