// Every state a step can be in, with the symbol and words shown beside its colour:
// colour is never the only signal (haflow.css colours by data-state).
export const STEP_STATES = {
  "waiting": { symbol: "○", text: "waiting" },
  "starting": { symbol: "▶", text: "starting" },
  "done": { symbol: "✓", text: "done" },
  "failed": { symbol: "✗", text: "failed" },
  "blocked": { symbol: "⊘", text: "blocked" },
  "undoing": { symbol: "↺", text: "undoing" },
  "undone": { symbol: "↶", text: "undone" },
  "skipped": { symbol: "»", text: "skipped" },
  "awaiting approval": { symbol: "◇", text: "awaiting approval" },
  "paused": { symbol: "‖", text: "paused" },
};

// a state this page does not know yet is still shown, by its name
export function stepState(state) {
  return STEP_STATES[state] || { symbol: "?", text: String(state) };
}

export const WORKFLOW_STATES = {
  "running": "▶",
  "done": "✓",
  "failed": "✗",
  "rolling back": "↺",
  "rolled back": "↶",
  "held": "‖",
  "blocked": "⊘",
  "paused": "‖",
  "awaiting approval": "◇",
};

export function workflowSymbol(state) {
  return WORKFLOW_STATES[state] || "?";
}

// "3 done · 1 starting": counts in the order of STEP_STATES, then any other
export function countsText(counts) {
  const known = Object.keys(STEP_STATES).filter((s) => counts[s]);
  const other = Object.keys(counts).filter((s) => !(s in STEP_STATES) && counts[s]);
  return [...known, ...other].map((s) => `${counts[s]} ${s}`).join(" · ");
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${Math.round(seconds / 86400)} d`;
}
