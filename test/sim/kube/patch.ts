// The three PATCH flavours the API server accepts, enough for the objects the simulator serves.
/* eslint-disable @typescript-eslint/no-explicit-any -- patches operate on untyped JSON documents */

export const JSON_PATCH = "application/json-patch+json";
export const MERGE_PATCH = "application/merge-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";

const isObject = (v: unknown): v is Record<string, any> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Applies `patch` to a copy of `target`; throws Error with a reason on a malformed or failing patch. */
export function applyPatch(target: any, patch: any, contentType: string): any {
  const doc = structuredClone(target);
  switch (contentType) {
    case JSON_PATCH:
      if (!Array.isArray(patch)) throw new Error("json patch must be an array of operations");
      return patch.reduce((d, op) => jsonPatchOp(d, op), doc);
    case MERGE_PATCH:
      return mergePatch(doc, patch);
    case STRATEGIC_MERGE_PATCH:
      return strategicMerge(doc, patch);
    default:
      throw new Error(`unsupported patch type ${contentType}`);
  }
}

// RFC 6902 --------------------------------------------------------------------------------------

function parsePointer(ptr: string): string[] {
  if (ptr === "") return [];
  if (!ptr.startsWith("/")) throw new Error(`invalid JSON pointer ${ptr}`);
  return ptr
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function resolveParent(doc: any, path: string): { parent: any; key: string } {
  const parts = parsePointer(path);
  const key = parts.pop();
  if (key === undefined) throw new Error("cannot address the document root");
  let parent = doc;
  for (const p of parts) {
    parent = parent?.[Array.isArray(parent) ? Number(p) : p];
    if (typeof parent !== "object" || parent === null) throw new Error(`path ${path} does not exist`);
  }
  return { parent, key };
}

function getAt(doc: any, path: string): any {
  const { parent, key } = resolveParent(doc, path);
  const v = Array.isArray(parent) ? parent[Number(key)] : parent[key];
  if (v === undefined) throw new Error(`path ${path} does not exist`);
  return v;
}

function arrayIndex(arr: any[], key: string, forInsert: boolean): number {
  if (forInsert && key === "-") return arr.length;
  const i = Number(key);
  if (!/^\d+$/.test(key) || i > arr.length || (!forInsert && i === arr.length)) {
    throw new Error(`array index ${key} out of range`);
  }
  return i;
}

function removeAt(doc: any, path: string): any {
  const { parent, key } = resolveParent(doc, path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false), 1)[0];
  if (!(key in parent)) throw new Error(`path ${path} does not exist`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: any, path: string, value: any): any {
  if (path === "") return value;
  const { parent, key } = resolveParent(doc, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true), 0, value);
  else parent[key] = value;
  return doc;
}

function jsonPatchOp(doc: any, op: any): any {
  switch (op?.op) {
    case "add":
      return addAt(doc, op.path, structuredClone(op.value));
    case "remove":
      removeAt(doc, op.path);
      return doc;
    case "replace":
      removeAt(doc, op.path);
      return addAt(doc, op.path, structuredClone(op.value));
    case "move":
      return addAt(doc, op.path, removeAt(doc, op.from));
    case "copy":
      return addAt(doc, op.path, structuredClone(getAt(doc, op.from)));
    case "test":
      if (JSON.stringify(getAt(doc, op.path)) !== JSON.stringify(op.value)) {
        throw new Error(`testing value ${op.path} failed`);
      }
      return doc;
    default:
      throw new Error(`unknown json patch operation ${JSON.stringify(op?.op)}`);
  }
}

// RFC 7386 --------------------------------------------------------------------------------------

function mergePatch(target: any, patch: any): any {
  if (!isObject(patch)) return structuredClone(patch);
  const out = isObject(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// Strategic merge: like a merge patch, except lists that Kubernetes declares with a merge key
// are merged element-wise. Lists without one (Node spec.taints among them) are replaced whole.
const MERGE_KEYS: Record<string, string> = {
  conditions: "type",
  addresses: "type",
  containers: "name",
  initContainers: "name",
  volumes: "name",
  env: "name",
  tolerations: "key",
  imagePullSecrets: "name",
};

function strategicMerge(target: any, patch: any): any {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  if (patch.$patch === "delete") return undefined;
  const out = isObject(target) ? target : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue;
    const mergeKey = MERGE_KEYS[k];
    if (v === null) delete out[k];
    else if (mergeKey && Array.isArray(v) && Array.isArray(out[k])) out[k] = mergeList(out[k], v, mergeKey);
    else {
      const merged = strategicMerge(out[k], v);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  return out;
}

function mergeList(list: any[], patch: any[], key: string): any[] {
  const out = [...list];
  for (const item of patch) {
    const i = isObject(item) ? out.findIndex((e) => isObject(e) && e[key] === item[key]) : -1;
    if (isObject(item) && item.$patch === "delete") {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = strategicMerge(out[i], item);
    else out.push(strategicMerge(undefined, item));
  }
  return out;
}
