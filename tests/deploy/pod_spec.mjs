// Reads the base Deployment and its ConfigMap literals (deploy/kubernetes/base) and prints what a
// container runtime needs to run one of the pod's containers the way the kubelet would, so that
// tests/deploy/image_test.sh can run the pod's containers with podman.
// Usage: node pod_spec.mjs QUERY [CONTAINER]
//   env                  the tapstackd-flags ConfigMap as KEY=VALUE lines
//   argv CONTAINER       command + args, $(VAR) expanded from the container's env, one per line
//   env-of CONTAINER     the container's environment (envFrom + env) as KEY=VALUE lines
//   podman-flags CONTAINER  securityContext (pod's and container's) as podman run flags, one per line
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const base = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "deploy", "kubernetes", "base");
const kustomization = parse(readFileSync(join(base, "kustomization.yaml"), "utf8"));
const deployment = parse(readFileSync(join(base, "deployment.yaml"), "utf8"));

const generators = Object.fromEntries((kustomization.configMapGenerator ?? []).map((g) => [g.name, g]));
function configMap(name) {
  const g = generators[name];
  if (!g) throw new Error(`no configMapGenerator ${name}`);
  return Object.fromEntries((g.literals ?? []).map((l) => {
    const eq = l.indexOf("=");
    return [l.slice(0, eq), l.slice(eq + 1).trim()];
  }));
}

const pod = deployment.spec.template.spec;
const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
function container(name) {
  const c = containers.find((c) => c.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}

function environment(c) {
  const env = {};
  for (const from of c.envFrom ?? []) Object.assign(env, configMap(from.configMapRef.name));
  for (const e of c.env ?? []) {
    if ("value" in e) env[e.name] = e.value;
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      env[e.name] = configMap(ref.name)[ref.key];
    }
  }
  return env;
}

// Kubernetes' $(VAR) expansion: $$ escapes, unknown references stay as written.
function expand(text, env) {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) =>
    m === "$$" ? "$" : name in env ? env[name] : m);
}

const [query, name] = process.argv.slice(2);
const lines = [];
switch (query) {
  case "env":
    for (const [k, v] of Object.entries(configMap("tapstackd-flags"))) lines.push(`${k}=${v}`);
    break;
  case "env-of":
    for (const [k, v] of Object.entries(environment(container(name)))) lines.push(`${k}=${v}`);
    break;
  case "argv": {
    const c = container(name);
    const env = environment(c);
    for (const a of [...(c.command ?? []), ...(c.args ?? [])]) {
      const value = expand(a, env);
      if (value.includes("\n")) {
        // Multi-line scripts travel as one line with the newlines escaped; the reader
        // (image_test.sh) turns \n back into newlines.
        lines.push(value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n"));
      } else {
        lines.push(value);
      }
    }
    break;
  }
  case "podman-flags": {
    const c = container(name);
    const sc = { ...(pod.securityContext ?? {}), ...(c.securityContext ?? {}) };
    if (sc.runAsUser !== undefined) lines.push(`--user=${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}`);
    for (const cap of c.securityContext?.capabilities?.drop ?? []) lines.push(`--cap-drop=${cap}`);
    for (const cap of c.securityContext?.capabilities?.add ?? []) lines.push(`--cap-add=${cap}`);
    if (sc.allowPrivilegeEscalation === false) lines.push("--security-opt=no-new-privileges");
    if (sc.readOnlyRootFilesystem) lines.push("--read-only");
    break;
  }
  default:
    console.error("usage: node pod_spec.mjs env | env-of C | argv C | podman-flags C");
    process.exit(2);
}
console.log(lines.join("\n"));
