// The service's API, with the session's token. Errors carry the command's report.
const TOKEN_KEY = "haflow.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, report) {
    super(report.message || `HTTP ${status}`);
    this.status = status;
    this.report = report;
  }
}

export async function api(path, { method = "GET", body, signal, tokenOverride } = {}) {
  const headers = { "Accept": "application/json" };
  const bearer = tokenOverride || token();
  if (bearer) headers["Authorization"] = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, signal, cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (!response.ok) throw new ApiError(response.status, reportOf(data, response));
  return data;
}

// the service answers errors as the commands' reports: {"code", "message", ...},
// possibly inside {"error": ...} or {"errors": [...]}
function reportOf(data, response) {
  let report = data;
  if (report && report.error) report = report.error;
  if (report && Array.isArray(report.errors) && report.errors.length) report = report.errors[0];
  if (!report || typeof report !== "object") report = {};
  return {
    code: report.code || `HTTP_${response.status}`,
    message: report.message || report.detail || response.statusText || "refused",
    ...report,
  };
}

export function workflowPath(name, tail = "") {
  return `/v1/workflows/${encodeURIComponent(name)}${tail}`;
}
