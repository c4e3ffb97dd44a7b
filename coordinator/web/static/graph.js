// A workflow's graph: positions from the server's layout (Graphviz), boxes drawn here so
// that a live update only changes a box's state, text and colour, never the layout.
import { stepState, duration } from "./states.js";

const SVG = "http://www.w3.org/2000/svg";

export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

export function heartbeatAge(step, now = Date.now() / 1000) {
  if (step.heartbeat === null || step.heartbeat === undefined) return null;
  return Math.max(0, now - step.heartbeat);
}

function outputsText(outputs) {
  return Object.entries(outputs || {}).map(([k, v]) => `${k}=${v}`).join(" ");
}

function failureText(failure) {
  if (!failure) return "";
  const why = failure.exit_reason || failure.rc_text || `rc ${failure.rc}`;
  return `${failure.operation} on ${failure.node}: ${why}`;
}

function isGate(step, laid) {
  return Boolean((laid && laid.gate) || step.approval || step.gate ||
                 step.state === "awaiting approval");
}

// the inside of a step's box, from its status
function stepInner(step) {
  const st = stepState(step.state);
  // a heartbeat says an action is alive: shown while one runs
  const age = step.state === "starting" || step.state === "undoing" ? heartbeatAge(step) : null;
  const lines = [];
  const where = [step.node, duration(step.duration)].filter(Boolean).join(" · ");
  const failure = failureText(step.failure);
  const outputs = outputsText(step.outputs);
  lines.push(`<div class="head"><span class="sym" aria-hidden="true">${st.symbol}</span>` +
             `<span class="name">${escapeHtml(step.name)}</span></div>`);
  lines.push(`<div class="state">${escapeHtml(st.text)}${step.stuck ? " · stuck" : ""}` +
             `${where ? ` · <span class="where">${escapeHtml(where)}</span>` : ""}</div>`);
  if (age !== null) lines.push(`<div class="hb" data-heartbeat="${step.heartbeat}">` +
                               `♥ ${escapeHtml(duration(age))} ago</div>`);
  if (failure) lines.push(`<div class="fail" title="${escapeHtml(failure)}">` +
                          `${escapeHtml(failure)}</div>`);
  else if (outputs) lines.push(`<div class="out" title="${escapeHtml(outputs)}">` +
                               `${escapeHtml(outputs)}</div>`);
  return lines.join("");
}

// what a box shows: its signature, so an update touches only boxes that changed
function signature(step) {
  return JSON.stringify([step.state, step.node, step.duration, step.heartbeat, step.stuck,
                         step.outputs, step.failure]);
}

export class GraphView {
  constructor(container, layout, onSelect) {
    this.container = container;
    this.layout = layout;
    this.onSelect = onSelect;
    this.boxes = new Map();  // step name -> element
    this.signatures = new Map();
    this.zoom = 1;
    this.build();
  }

  build() {
    const { width, height, steps, edges, groups } = this.layout;
    const pad = 12;
    const canvas = document.createElement("div");
    canvas.className = "canvas";
    canvas.style.width = `${width + 2 * pad}px`;
    canvas.style.height = `${height + 2 * pad}px`;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", width + 2 * pad);
    svg.setAttribute("height", height + 2 * pad);
    svg.setAttribute("aria-hidden", "true");
    const parts = [`<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" ` +
      `markerWidth="7" markerHeight="7" orient="auto-start-reverse">` +
      `<path d="M0,0 L10,5 L0,10 z"/></marker></defs><g transform="translate(${pad},${pad})">`];
    for (const g of groups) {
      parts.push(`<g class="group"><rect x="${g.x}" y="${g.y}" width="${g.w}" ` +
                 `height="${g.h}" rx="8"/><text x="${g.x + 8}" y="${g.y + 15}">` +
                 `${escapeHtml(g.name)}${g.kind ? ` (${escapeHtml(g.kind)})` : ""}</text></g>`);
    }
    for (const e of edges) {
      parts.push(`<path class="edge" data-from="${escapeHtml(e.from)}" ` +
                 `data-to="${escapeHtml(e.to)}" d="${e.d}" marker-end="url(#arrow)"/>`);
    }
    parts.push("</g>");
    svg.innerHTML = parts.join("");
    canvas.appendChild(svg);
    const html = [];
    for (const [name, box] of Object.entries(steps)) {
      html.push(`<div class="step${box.gate ? " gate" : ""}" data-step="${escapeHtml(name)}" ` +
                `data-state="" tabindex="0" role="button" ` +
                `style="left:${box.x + pad}px;top:${box.y + pad}px;width:${box.w}px;` +
                `height:${box.h}px"></div>`);
    }
    const layer = document.createElement("div");
    layer.className = "steps";
    layer.innerHTML = html.join("");
    canvas.appendChild(layer);
    for (const el of layer.children) this.boxes.set(el.dataset.step, el);
    layer.addEventListener("click", (ev) => {
      const box = ev.target.closest(".step");
      if (box) this.onSelect(box.dataset.step);
    });
    layer.addEventListener("keydown", (ev) => {
      const box = ev.target.closest(".step");
      if (box && (ev.key === "Enter" || ev.key === " ")) {
        ev.preventDefault();
        this.onSelect(box.dataset.step);
      }
    });
    this.canvas = canvas;
    this.container.replaceChildren(canvas);
  }

  // the steps' status: each box that changed gets its state and text
  update(steps) {
    for (const step of steps) {
      const box = this.boxes.get(step.name);
      if (!box) continue;
      const sig = signature(step);
      if (this.signatures.get(step.name) === sig) continue;
      this.signatures.set(step.name, sig);
      this.paint(box, step);
    }
  }

  paint(box, step) {
    const st = stepState(step.state);
    box.dataset.state = step.state;
    box.classList.toggle("gate", isGate(step, this.layout.steps[step.name]));
    box.classList.toggle("stuck", Boolean(step.stuck));
    box.setAttribute("aria-label", `${step.name}: ${st.text}`);
    box.innerHTML = stepInner(step);
  }

  // heartbeat ages move on between reads
  tick() {
    const now = Date.now() / 1000;
    for (const el of this.canvas.querySelectorAll(".hb[data-heartbeat]")) {
      el.textContent = `♥ ${duration(Math.max(0, now - Number(el.dataset.heartbeat)))} ago`;
    }
  }

  select(name) {
    for (const el of this.canvas.querySelectorAll(".step.selected")) {
      el.classList.remove("selected");
    }
    const box = this.boxes.get(name);
    if (box) box.classList.add("selected");
  }

  setZoom(zoom) {
    this.zoom = Math.min(2, Math.max(0.1, zoom));
    this.canvas.style.transform = `scale(${this.zoom})`;
    this.canvas.style.marginRight = `${(this.zoom - 1) * this.canvas.offsetWidth}px`;
    this.canvas.style.marginBottom = `${(this.zoom - 1) * this.canvas.offsetHeight}px`;
  }

  fit() {
    const w = this.container.clientWidth, h = Math.max(300, this.container.clientHeight);
    this.setZoom(Math.min(1, w / this.canvas.offsetWidth, h / this.canvas.offsetHeight));
  }
}
