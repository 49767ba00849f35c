// Permission display helpers. What a token may do is decided by the server; these
// only format permissions and hide choices the signed-in user could not grant
// (the server refuses them anyway).

export const TYPES = [
  "authorizations", "buckets", "dashboards", "orgs", "sources", "tasks", "telegrafs",
  "users", "variables", "scrapers", "secrets", "labels", "views", "documents",
  "notificationRules", "notificationEndpoints", "checks", "dbrp", "notebooks",
  "annotations", "remotes", "replications", "instance",
];

// The text form used by the CLI and the server's errors.
export function permText(p) {
  const r = p.resource || {};
  let path;
  if (r.orgID && r.id) path = `orgs/${r.orgID}/${r.type}/${r.id}`;
  else if (r.orgID) path = `orgs/${r.orgID}/${r.type}`;
  else if (r.id) path = `${r.type}/${r.id}`;
  else path = r.type;
  return `${p.action}:${path}`;
}

// Does granted g match requested r (SPEC §2)? Used only to hide offers.
export function matches(g, r) {
  if (g.action !== r.action) return false;
  const gr = g.resource || {};
  const rr = r.resource || {};
  if (gr.type === "instance") return true;
  if (gr.type !== rr.type) return false;
  if (!gr.orgID && !gr.id) return true;
  if (gr.orgID && !gr.id) return (rr.orgID || "") === gr.orgID;
  if (gr.id && !gr.orgID) return (rr.id || "") === gr.id;
  return (rr.id || "") === gr.id && (rr.orgID || "") === gr.orgID;
}

export function held(permissions, p) {
  return permissions.some((g) => matches(g, p));
}

export function perm(action, type, orgID, id) {
  const resource = { type };
  if (orgID) resource.orgID = orgID;
  if (id) resource.id = id;
  return { action, resource };
}

export function kindOf(auth) {
  if (auth.kind) return auth.kind;
  const ps = auth.permissions || [];
  if (ps.some((p) => p.resource && p.resource.type === "instance")) return "operator";
  return "custom";
}

export const KIND_LABEL = { operator: "Operator", "all-access": "All-Access", custom: "Custom" };

// Permissions grouped by resource type, then by scope, with read/write flags.
export function groupPermissions(permissions, bucketNames = new Map(), orgNames = new Map()) {
  const groups = new Map();
  for (const p of permissions || []) {
    const r = p.resource || {};
    const type = r.type || "?";
    if (!groups.has(type)) groups.set(type, new Map());
    const scopeKey = `${r.orgID || ""}/${r.id || ""}`;
    const rows = groups.get(type);
    if (!rows.has(scopeKey)) {
      let scope;
      if (r.id) {
        const name = r.name || (type === "buckets" && bucketNames.get(r.id))
          || (type === "orgs" && orgNames.get(r.id)) || "";
        scope = name ? `${name} (${r.id})` : r.id;
      } else if (r.orgID) {
        scope = `all in ${r.org || orgNames.get(r.orgID) || r.orgID}`;
      } else {
        scope = "all (every org)";
      }
      rows.set(scopeKey, { scope, read: null, write: null });
    }
    rows.get(scopeKey)[p.action === "write" ? "write" : "read"] = permText(p);
  }
  return groups;
}
