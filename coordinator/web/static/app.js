// haflow's web view: sign-in, the list of workflows, a workflow's graph and history, kept
// live by the event stream. It uses the service's API only (/v1/...).
import { api, ApiError, token, setToken, workflowPath } from "./api.js";
import { EventStream } from "./stream.js";
import { GraphView, escapeHtml, heartbeatAge } from "./graph.js";
import { STEP_STATES, stepState, workflowSymbol, countsText, duration } from "./states.js";

// the roles that may act on workflows (the service enforces it; the page only hides)
const ACTING_ROLES = new Set(["operator", "admin"]);
const ACTIONS = {
  abort: { title: "Abort", text: "Every step of {wf} that did something is undone, in reverse order." },
  retry: { title: "Retry", text: "The failed steps of {wf} are cleared and run again." },
  approve: { title: "Approve", text: "{step} of {wf} may start: its approval goes to the history." },
  pause: { title: "Pause", text: "No step of {wf} starts or stops any more; running steps finish." },
  resume: { title: "Resume", text: "{wf} goes on from where it was paused." },
};
// ms: events arrive in bursts, one read follows a burst. Events carry the states
// themselves: a read of the whole workflow only brings durations, outputs, failures
const REFRESH_DELAY = 250;
const DETAILS_DELAY = 1000;
const HISTORY_DELAY = 2000;  // the history's read asks the fencer too

const main = document.getElementById("main");
const streamBadge = document.getElementById("stream");
const whoBadge = document.getElementById("who");
const signOutButton = document.getElementById("signout");
const crumbs = document.getElementById("crumbs");

const session = { user: null, role: null, stream: null };
let view = null;  // the view on screen: {refresh(), onEvent(type, data), close()}

function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  if (hash.startsWith("/workflow/")) return { page: "workflow", name: hash.slice(10) };
  return { page: "list" };
}

async function show() {
  if (view) view.close();
  view = null;
  if (!token()) return showSignIn();
  const where = route();
  view = where.page === "workflow" ? new WorkflowPage(where.name) : new ListPage();
  await view.refresh();
}

// ---- sign-in -------------------------------------------------------------------------

function showSignIn(message) {
  crumbs.textContent = "";
  whoBadge.textContent = "";
  signOutButton.hidden = true;
  setStream("idle");
  main.innerHTML = `
    <form id="signin" class="signin">
      <h1>Sign in</h1>
      <p>A token from <code>haflow users add NAME --role ROLE</code>. It is kept for this
         browser tab only.</p>
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autocomplete="off" required>
      <button type="submit" id="signin-button">Sign in</button>
      <p id="signin-error" class="report" role="alert" ${message ? "" : "hidden"}>
        ${escapeHtml(message || "")}</p>
    </form>`;
  const form = document.getElementById("signin");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const value = document.getElementById("token").value.trim();
    const error = document.getElementById("signin-error");
    try {
      const me = await whoami(value);
      setToken(value);
      await startSession(me);
    } catch (err) {
      error.hidden = false;
      error.textContent = err instanceof ApiError
        ? `Token refused: ${err.report.code} (${err.status}): ${err.report.message}`
        : `Cannot reach haflow: ${err.message}`;
    }
  });
  document.getElementById("token").focus();
}

async function whoami(value) {
  return api("/v1/whoami", { tokenOverride: value });
}

async function startSession(me) {
  session.user = me.user || me.name || "";
  session.role = me.role || "viewer";
  whoBadge.textContent = `${session.user} (${session.role})`;
  whoBadge.dataset.role = session.role;
  signOutButton.hidden = false;
  if (session.stream) session.stream.stop();
  session.stream = new EventStream({
    onEvent: (type, data) => view && view.onEvent(type, data),
    onStatus: (status) => {
      setStream(status);
      // events sent while the stream was lost are gone: read the state again
      if (status === "back" && view) view.refresh();
    },
    onRefused: () => signOut("Your token was refused; sign in again."),
  });
  session.stream.start();
  await show();
}

function signOut(message) {
  setToken(null);
  if (session.stream) session.stream.stop();
  session.stream = null;
  if (view) view.close();
  view = null;
  showSignIn(message);
}

const STREAM_TEXT = {
  idle: "",
  live: "● live",
  lost: "✗ connection lost: reconnecting…",
  back: "● live again (reconnected)",
};

function setStream(status) {
  streamBadge.dataset.stream = status;
  streamBadge.textContent = status in STREAM_TEXT ? STREAM_TEXT[status] : status;
}

// a read of the API that fails for a reason the page can act on
function handleError(err, into) {
  if (err instanceof ApiError && err.status === 401) {
    signOut("Your token was refused; sign in again.");
    return;
  }
  if (into) {
    into.hidden = false;
    into.textContent = err instanceof ApiError
      ? `${err.report.code} (${err.status}): ${err.report.message}` : `${err.message}`;
  }
}

// one read at a time, and one more after it if events came meanwhile
class Refresher {
  constructor(read) {
    this.read = read;
    this.timer = null;
    this.running = null;
    this.again = false;
  }

  soon(delay = REFRESH_DELAY) {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.now(); }, delay);
  }

  async now() {
    if (this.running) { this.again = true; return this.running; }
    this.running = this.read().finally(() => {
      this.running = null;
      if (this.again) { this.again = false; this.soon(); }
    });
    return this.running;
  }

  close() { clearTimeout(this.timer); this.read = async () => {}; }
}

function ago(epoch) {
  if (!epoch) return "";
  return duration(Math.max(0, Date.now() / 1000 - epoch));
}

// when a workflow was submitted: the service's field if it gives one, else its first start
function submittedAt(wf) {
  if (wf.submitted) return wf.submitted;
  if (wf.created) return wf.created;
  // a list row counts its steps; a workflow's status lists them
  const starts = Array.isArray(wf.steps) ? wf.steps.map((s) => s.started).filter(Boolean) : [];
  return starts.length ? Math.min(...starts) : null;
}

function eventWorkflow(data) {
  return data && (data.workflow || data.name);
}

// ---- the list of workflows -----------------------------------------------------------

class ListPage {
  constructor() {
    crumbs.innerHTML = `<span>workflows</span>`;
    main.innerHTML = `
      <section class="list">
        <div class="toolbar">
          <label for="filter">Filter</label>
          <input id="filter" type="search" placeholder="name, state or policy">
          <label for="state-filter">State</label>
          <select id="state-filter"><option value="">any</option></select>
          <span id="list-count"></span>
        </div>
        <p id="list-error" class="report" role="alert" hidden></p>
        <table id="workflows">
          <thead><tr><th>Workflow</th><th>State</th><th>Steps</th><th>Policy</th>
            <th>Age</th></tr></thead>
          <tbody></tbody>
        </table>
        <p id="empty" hidden>No workflow in the cluster.</p>
      </section>`;
    this.workflows = [];
    this.filter = document.getElementById("filter");
    this.stateFilter = document.getElementById("state-filter");
    this.filter.value = sessionStorage.getItem("haflow.filter") || "";
    this.filter.addEventListener("input", () => {
      sessionStorage.setItem("haflow.filter", this.filter.value);
      this.render();
    });
    this.stateFilter.addEventListener("change", () => this.render());
    this.refresher = new Refresher(() => this.load());
    this.ticker = setInterval(() => this.renderAges(), 1000);
  }

  refresh() { return this.refresher.now(); }

  async load() {
    try {
      const data = await api("/v1/workflows");
      this.workflows = Array.isArray(data) ? data : (data.workflows || []);
      document.getElementById("list-error").hidden = true;
      this.render();
    } catch (err) {
      handleError(err, document.getElementById("list-error"));
    }
  }

  render() {
    const words = this.filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const wanted = this.stateFilter.value;
    const states = [...new Set(this.workflows.map((w) => w.state))].sort();
    const options = ["", ...states];
    if (this.stateFilter.options.length !== options.length ||
        options.some((s, i) => this.stateFilter.options[i].value !== s)) {
      this.stateFilter.innerHTML = options.map((s) => `<option value="${escapeHtml(s)}"` +
        `${s === wanted ? " selected" : ""}>${escapeHtml(s || "any")}</option>`).join("");
    }
    const shown = this.workflows.filter((w) => {
      if (wanted && w.state !== wanted) return false;
      const hay = `${w.name} ${w.state} ${w.policy} ${w.description || ""}`.toLowerCase();
      return words.every((word) => hay.includes(word));
    });
    const body = document.querySelector("#workflows tbody");
    body.innerHTML = shown.map((w) => `
      <tr data-workflow="${escapeHtml(w.name)}" data-state="${escapeHtml(w.state)}">
        <td><a href="#/workflow/${encodeURIComponent(w.name)}">${escapeHtml(w.name)}</a>
          ${w.description ? `<div class="desc">${escapeHtml(w.description)}</div>` : ""}</td>
        <td class="wstate"><span class="sym" aria-hidden="true">${workflowSymbol(w.state)}</span>
          ${escapeHtml(w.state)}</td>
        <td>${escapeHtml(countsText(w.counts || {}))}</td>
        <td>${escapeHtml(w.policy || "")}</td>
        <td class="age" data-since="${submittedAt(w) || ""}">${ago(submittedAt(w))}</td>
      </tr>`).join("");
    document.getElementById("list-count").textContent =
      `${shown.length} of ${this.workflows.length}`;
    document.getElementById("empty").hidden = this.workflows.length > 0;
  }

  renderAges() {
    for (const cell of document.querySelectorAll("#workflows td.age[data-since]")) {
      cell.textContent = ago(Number(cell.dataset.since));
    }
  }

  onEvent() { this.refresher.soon(); }

  close() { this.refresher.close(); clearInterval(this.ticker); }
}

// ---- one workflow --------------------------------------------------------------------

class WorkflowPage {
  constructor(name) {
    this.name = name;
    this.status = null;
    this.graph = null;
    this.selected = null;
    const acting = ACTING_ROLES.has(session.role);
    crumbs.innerHTML = `<a href="#/">workflows</a> › <span>${escapeHtml(name)}</span>`;
    main.innerHTML = `
      <section class="workflow" data-workflow="${escapeHtml(name)}">
        <div class="summary">
          <h1>${escapeHtml(name)}</h1>
          <span id="wf-state" class="wstate"></span>
          <span id="wf-counts"></span>
          <span id="wf-policy"></span>
        </div>
        <p id="wf-desc" class="desc"></p>
        ${acting ? `<div id="actions" class="actions">${Object.entries(ACTIONS).map(
          ([action, a]) => `<button type="button" data-action="${action}">${a.title}</button>`,
        ).join("")}</div>` : ""}
        <p id="report" class="report" role="alert" hidden></p>
        <div class="graph-tools">
          <button type="button" id="zoom-out" aria-label="zoom out">−</button>
          <button type="button" id="zoom-fit">fit</button>
          <button type="button" id="zoom-in" aria-label="zoom in">+</button>
          <span class="legend">${legend()}</span>
        </div>
        <div class="split">
          <div id="graph" class="graph"><p class="loading">Laying the graph out…</p></div>
          <aside id="details" class="details" hidden></aside>
        </div>
        <h2>History</h2>
        <table id="history">
          <thead><tr><th>Time</th><th>Step</th><th>Node</th><th>Task</th><th>Outcome</th>
            <th>Text</th></tr></thead>
          <tbody></tbody>
        </table>
      </section>`;
    if (acting) {
      for (const button of document.querySelectorAll("#actions button")) {
        button.addEventListener("click", () => this.act(button.dataset.action));
      }
    }
    document.getElementById("zoom-in").onclick = () => this.graph && this.graph.setZoom(this.graph.zoom * 1.25);
    document.getElementById("zoom-out").onclick = () => this.graph && this.graph.setZoom(this.graph.zoom / 1.25);
    document.getElementById("zoom-fit").onclick = () => this.graph && this.graph.fit();
    this.refresher = new Refresher(() => this.load());
    this.historyRefresher = new Refresher(() => this.loadHistory());
    this.ticker = setInterval(() => { if (this.graph) this.graph.tick(); this.renderDetails(); }, 1000);
    this.frame = null;  // a paint of the states events brought, on the next frame
    this.dirty = new Set();  // the steps events changed since that paint
    this.stepsByName = new Map();
  }

  async refresh() {
    await Promise.all([this.refresher.now(), this.historyRefresher.now()]);
  }

  async load() {
    try {
      const [status, layout] = await Promise.all([
        api(workflowPath(this.name)),
        this.graph ? null : api(workflowPath(this.name, "/graph")),
      ]);
      this.status = Array.isArray(status) ? status[0] : status;
      this.stepsByName = new Map(this.status.steps.map((step) => [step.name, step]));
      this.dirty.clear();  // those were the old status's steps: render() paints them all
      if (!this.graph && layout) {
        this.graph = new GraphView(document.getElementById("graph"), layout,
                                   (step) => this.select(step));
      }
      this.render();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        document.getElementById("graph").innerHTML =
          `<p class="report">${escapeHtml(err.report.message)}</p>`;
        this.status = null;
        return;
      }
      handleError(err, document.getElementById("report"));
    }
  }

  // the summary, and the boxes of ``changed`` steps (all of them after a read)
  render(changed) {
    const wf = this.status;
    if (!wf) return;
    const state = document.getElementById("wf-state");
    state.dataset.state = wf.state;
    state.innerHTML = `<span class="sym" aria-hidden="true">${workflowSymbol(wf.state)}</span> ` +
                      escapeHtml(wf.state);
    const counts = {};
    for (const step of wf.steps) counts[step.state] = (counts[step.state] || 0) + 1;
    document.getElementById("wf-counts").textContent = countsText(counts);
    document.getElementById("wf-policy").textContent = `policy: ${wf.policy}`;
    document.getElementById("wf-desc").textContent = wf.description || "";
    this.graph.update(changed || wf.steps);
    this.renderDetails();
  }

  async loadHistory() {
    try {
      const data = await api(workflowPath(this.name, "/history"));
      const events = Array.isArray(data) ? data : (data.events || []);
      document.querySelector("#history tbody").innerHTML = events.map((e) => `
        <tr data-step="${escapeHtml(e.step)}" data-outcome="${escapeHtml(e.outcome)}">
          <td>${escapeHtml(new Date(e.time * 1000).toLocaleString())}</td>
          <td>${escapeHtml(e.step)}</td><td>${escapeHtml(e.node)}</td>
          <td>${escapeHtml(e.task)}</td><td>${escapeHtml(e.outcome)}</td>
          <td>${escapeHtml(e.text)}</td></tr>`).join("");
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) handleError(err);
    }
  }

  onEvent(type, data) {
    if (eventWorkflow(data) !== this.name) return;
    // a state shows at once (painted on the next frame, however many events came);
    // the rest (duration, outputs, heartbeat...) with the next read
    if (this.status && data.state) {
      if (data.step) {
        const step = this.stepsByName.get(data.step);
        if (step) {
          step.state = data.state;
          if (data.node !== undefined) step.node = data.node;
          this.dirty.add(step);
        }
      } else if (data.state !== "removed") {
        this.status.state = data.state;
      }
      if (!this.frame) {
        this.frame = requestAnimationFrame(() => {
          this.frame = null;
          this.render([...this.dirty]);
          this.dirty.clear();
        });
      }
    }
    this.refresher.soon(DETAILS_DELAY);
    this.historyRefresher.soon(HISTORY_DELAY);
  }

  select(step) {
    this.selected = step;
    this.graph.select(step);
    this.renderDetails();
  }

  renderDetails() {
    const aside = document.getElementById("details");
    if (!aside || !this.selected || !this.status) return;
    const step = this.status.steps.find((s) => s.name === this.selected);
    if (!step) { aside.hidden = true; return; }
    const st = stepState(step.state);
    const age = heartbeatAge(step);
    const rows = [
      ["state", `${st.symbol} ${st.text}${step.stuck ? " (stuck)" : ""}`],
      ["agent", step.agent], ["node", step.node], ["duration", duration(step.duration)],
      ["started", step.started ? new Date(step.started * 1000).toLocaleString() : ""],
      ["heartbeat", age === null ? "" : `${duration(age)} ago` +
        (step.progress !== null && step.progress !== undefined ? `, ${step.progress} %` : "") +
        (step.message ? `: ${step.message}` : "")],
      ["waiting on", (step.waiting_on || []).join(", ")],
      ["note", step.note],
      ["last failure", step.failure ? `${step.failure.operation} on ${step.failure.node}: ` +
        `${step.failure.rc_text} (${step.failure.rc}) ${step.failure.exit_reason || ""}` : ""],
      ["fail counts", Object.entries(step.fail_count || {}).map(([n, c]) => `${n}: ${c}`).join(", ")],
    ].filter(([, v]) => v);
    const outputs = Object.entries(step.outputs || {});
    const canApprove = ACTING_ROLES.has(session.role) && step.state === "awaiting approval";
    const html = `<h2><span class="sym" aria-hidden="true">${st.symbol}</span> ${escapeHtml(step.name)}</h2>
      <dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("")}</dl>
      ${outputs.length ? `<h3>Outputs</h3><dl>${outputs.map(([k, v]) =>
        `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("")}</dl>` : ""}
      ${canApprove ? `<button type="button" id="approve-step">Approve ${escapeHtml(step.name)}</button>` : ""}`;
    if (aside.dataset.html !== html) {
      aside.dataset.html = html;
      aside.innerHTML = html;
      const approve = document.getElementById("approve-step");
      if (approve) approve.onclick = () => this.act("approve", step.name);
    }
    aside.hidden = false;
  }

  // the gate an approval is for: the file step of the step picked (a fan-out's instances
  // share their file step's gate), else the only one waiting for it
  gateToApprove(step) {
    const gateOf = (name) => {
      const box = this.graph && this.graph.layout.steps[name];
      return (box && box.group) || name;
    };
    if (step) return gateOf(step);
    const waiting = new Set((this.status ? this.status.steps : [])
      .filter((s) => s.state === "awaiting approval").map((s) => gateOf(s.name)));
    if (this.selected && waiting.has(gateOf(this.selected))) return gateOf(this.selected);
    return waiting.size === 1 ? [...waiting][0] : null;
  }

  async act(action, step) {
    const report = document.getElementById("report");
    report.hidden = true;
    const target = action === "approve" ? this.gateToApprove(step) : null;
    if (action === "approve" && !target) {
      report.hidden = false;
      report.textContent = "Pick the step to approve: click a step awaiting approval.";
      return;
    }
    const spec = ACTIONS[action];
    const ok = await confirmDialog(`${spec.title} ${this.name}?`,
      spec.text.replace("{wf}", this.name).replace("{step}", target || ""));
    if (!ok) return;
    try {
      const body = target ? { step: target } : {};
      const answer = await api(workflowPath(this.name, `/${action}`), { method: "POST", body });
      report.hidden = false;
      report.dataset.kind = "ok";
      report.textContent = (answer && answer.message) || `${spec.title}: accepted`;
      this.refresher.soon(0);
    } catch (err) {
      report.dataset.kind = "refused";
      handleError(err, report);
    }
  }

  close() {
    this.refresher.close();
    this.historyRefresher.close();
    clearInterval(this.ticker);
    if (this.frame) cancelAnimationFrame(this.frame);
  }
}

function legend() {
  return Object.keys(STEP_STATES).map((state) => {
    const st = stepState(state);
    return `<span class="chip" data-state="${escapeHtml(state)}"><span class="sym" ` +
           `aria-hidden="true">${st.symbol}</span> ${escapeHtml(st.text)}</span>`;
  }).join("");
}

function confirmDialog(title, text) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

// ---- start ---------------------------------------------------------------------------

signOutButton.addEventListener("click", () => signOut());
window.addEventListener("hashchange", () => { if (token()) show(); });

(async () => {
  if (!token()) return showSignIn();
  try {
    await startSession(await whoami(token()));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signOut("Your token was refused; sign in again.");
    else showSignIn(`Cannot reach haflow: ${err.message}`);
  }
})();
