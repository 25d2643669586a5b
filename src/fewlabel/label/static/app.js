// fewlabel label: label particles and review picks. Plain JS, no dependencies.
// Coordinates from the API are pixels of the displayed image; the server converts them.
"use strict";

const TOKEN = document.querySelector('meta[name="fewlabel-token"]').content;
const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

const state = {
  session: null,     // GET /api/session
  index: 0,          // micrograph on screen
  data: null,        // GET /api/micrographs/{index}/picks
  preview: null,     // threshold under the slider (review mode)
  view: { scale: 1, tx: 0, ty: 0 },
  loading: 0,        // bumps on every navigation so late answers are dropped
};

async function api(method, path, body) {
  const init = { method, headers: { "X-Fewlabel-Token": TOKEN } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(payload.error || `${response.status} ${response.statusText}`);
  return payload;
}

function status(text, isError = false) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", isError);
}

// ---- counters and threshold --------------------------------------------------------------

function setCounts(count, total) {
  state.session.micrographs[state.index].count = count;
  state.session.total = total;
  $("count").textContent = count;
  $("total").textContent = total;
  const option = $("jump").options[state.index];
  if (option) option.textContent = `${state.session.micrographs[state.index].name} (${count})`;
}

function keptAt(threshold) {
  // manual picks always count; scored picks when score >= threshold (scores sorted ascending)
  const scores = state.session.scores;
  let lo = 0, hi = scores.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (scores[mid] < threshold) lo = mid + 1; else hi = mid;
  }
  return state.session.manual + scores.length - lo;
}

function isShown(pick) {
  return state.session.mode !== "review" || pick.manual || pick.score >= state.preview;
}

function updateReview() {
  if (state.session.mode !== "review") return;
  $("threshold-value").textContent = Number(state.preview).toPrecision(4);
  $("kept").textContent = keptAt(state.preview);
  $("kept-here").textContent = state.data ? state.data.picks.filter(isShown).length : 0;
  $("accept").classList.toggle("pending", state.preview !== state.session.threshold);
}

// ---- drawing and view --------------------------------------------------------------------

function draw() {
  const svg = $("overlay");
  svg.replaceChildren();
  if (!state.data) return;
  const { width, height, radius, picks } = state.data;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  for (const pick of picks) {
    if (!isShown(pick)) continue;
    const c = document.createElementNS(SVG_NS, "circle");
    c.setAttribute("cx", pick.x);
    c.setAttribute("cy", pick.y);
    c.setAttribute("r", radius);
    c.setAttribute("class", pick.manual ? "manual" : "scored");
    c.dataset.id = pick.id;
    const title = document.createElementNS(SVG_NS, "title");
    title.textContent = pick.manual ? "added by hand (click to remove)"
                                    : `score ${pick.score.toPrecision(4)} (click to remove)`;
    c.appendChild(title);
    svg.appendChild(c);
  }
}

function applyView() {
  const { scale, tx, ty } = state.view;
  $("stage").style.transform = `translate(${tx}px, ${ty}px) scale(${scale})`;
}

function fit() {
  if (!state.data) return;
  const vp = $("viewport").getBoundingClientRect();
  const scale = Math.min(vp.width / state.data.width, vp.height / state.data.height);
  state.view = {
    scale,
    tx: (vp.width - state.data.width * scale) / 2,
    ty: (vp.height - state.data.height * scale) / 2,
  };
  applyView();
}

function zoom(factor, cx, cy) {
  const vp = $("viewport").getBoundingClientRect();
  if (cx === undefined) { cx = vp.width / 2; cy = vp.height / 2; }
  const v = state.view;
  const scale = Math.min(40, Math.max(0.05, v.scale * factor));
  const k = scale / v.scale;
  state.view = { scale, tx: cx - (cx - v.tx) * k, ty: cy - (cy - v.ty) * k };
  applyView();
}

// ---- navigation ---------------------------------------------------------------------------

async function show(index) {
  const n = state.session.micrographs.length;
  if (n === 0) { status("no micrographs"); return; }
  index = Math.max(0, Math.min(n - 1, index));
  const ticket = ++state.loading;
  state.index = index;
  const m = state.session.micrographs[index];
  $("jump").value = String(index);
  $("position").textContent = `${index + 1} / ${n}`;
  $("count").textContent = m.count;
  status(`loading ${m.name}...`);
  try {
    const data = await api("GET", `/api/micrographs/${index}/picks`);
    if (ticket !== state.loading) return;
    const img = $("micrograph");
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error("could not load the image"));
      img.src = `/api/micrographs/${index}/image.png?token=${encodeURIComponent(TOKEN)}`;
    });
    if (ticket !== state.loading) return;
    state.data = data;
    draw();
    fit();
    updateReview();
    document.body.dataset.ready = String(index);  // lets tests wait for a loaded micrograph
    status(m.name);
    api("POST", "/api/current", { micrograph: index }).catch(() => {});
  } catch (err) {
    if (ticket === state.loading) status(`${m.name}: ${err.message}`, true);
  }
}

// ---- editing -----------------------------------------------------------------------------

async function addAt(clientX, clientY) {
  const rect = $("micrograph").getBoundingClientRect();
  const x = (clientX - rect.left) * state.data.width / rect.width;
  const y = (clientY - rect.top) * state.data.height / rect.height;
  if (x < 0 || y < 0 || x >= state.data.width || y >= state.data.height) return;
  const index = state.index;
  try {
    const r = await api("POST", `/api/micrographs/${index}/picks`, { x, y });
    if (index !== state.index) return;
    state.data.picks.push({ id: r.id, x: r.x, y: r.y, score: r.score, manual: r.manual });
    state.session.manual += 1;
    showSaved(r);
  } catch (err) {
    status(`not saved: ${err.message}`, true);
  }
}

// After the server saved a change: new counters, redraw, and say where it was written.
function showSaved(r) {
  setCounts(r.count, r.total);
  draw();
  updateReview();
  status(`saved to ${state.session.output}`);
}

async function removePick(id) {
  try {
    const r = await api("DELETE", `/api/picks/${id}`);
    const i = state.data.picks.findIndex((p) => p.id === id);
    if (i >= 0) {
      const [pick] = state.data.picks.splice(i, 1);
      if (pick.manual) state.session.manual -= 1;
      else {
        const j = state.session.scores.indexOf(pick.score);
        if (j >= 0) state.session.scores.splice(j, 1);
      }
    }
    showSaved(r);
  } catch (err) {
    status(`not saved: ${err.message}`, true);
  }
}

async function accept() {
  try {
    const r = await api("POST", "/api/threshold", { threshold: state.preview });
    state.session.threshold = r.threshold;
    state.session.micrographs.forEach((m) => { m.count = r.counts[m.name]; });
    setCounts(r.counts[state.session.micrographs[state.index].name], r.kept);
    fillJump();
    updateReview();
    status(`saved ${r.kept} picks to ${state.session.output}`);
  } catch (err) {
    status(`not saved: ${err.message}`, true);
  }
}

// ---- events ------------------------------------------------------------------------------

function fillJump() {
  const jump = $("jump");
  jump.replaceChildren(...state.session.micrographs.map((m, i) => {
    const o = document.createElement("option");
    o.value = String(i);
    o.textContent = `${m.name} (${m.count})`;
    return o;
  }));
  jump.value = String(state.index);
}

function bindEvents() {
  const vp = $("viewport");
  let press = null;
  vp.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    press = { x: e.clientX, y: e.clientY, tx: state.view.tx, ty: state.view.ty,
              target: e.target, moved: false };
    vp.setPointerCapture(e.pointerId);
  });
  vp.addEventListener("pointermove", (e) => {
    if (!press) return;
    const dx = e.clientX - press.x, dy = e.clientY - press.y;
    if (!press.moved && Math.hypot(dx, dy) < 4) return;
    press.moved = true;
    vp.classList.add("panning");
    state.view.tx = press.tx + dx;
    state.view.ty = press.ty + dy;
    applyView();
  });
  vp.addEventListener("pointerup", (e) => {
    if (!press) return;
    const p = press;
    press = null;
    vp.classList.remove("panning");
    if (p.moved || !state.data) return;
    if (p.target instanceof SVGCircleElement) removePick(Number(p.target.dataset.id));
    else addAt(e.clientX, e.clientY);
  });
  vp.addEventListener("pointercancel", () => { press = null; vp.classList.remove("panning"); });
  vp.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = vp.getBoundingClientRect();
    zoom(Math.exp(-e.deltaY * 0.0015), e.clientX - rect.left, e.clientY - rect.top);
  }, { passive: false });

  $("prev").addEventListener("click", () => show(state.index - 1));
  $("next").addEventListener("click", () => show(state.index + 1));
  $("jump").addEventListener("change", (e) => show(Number(e.target.value)));
  $("threshold").addEventListener("input", (e) => {
    state.preview = Number(e.target.value);
    draw();
    updateReview();
  });
  $("accept").addEventListener("click", accept);
  window.addEventListener("resize", fit);

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target.tagName;
    const onSlider = tag === "INPUT";
    if (tag === "SELECT") return;
    const key = e.key;
    if (key === "n" || key === "d" || (key === "ArrowRight" && !onSlider)) show(state.index + 1);
    else if (key === "p" || key === "a" || (key === "ArrowLeft" && !onSlider)) show(state.index - 1);
    else if (key === "f" || key === "0") fit();
    else if (key === "+" || key === "=") zoom(1.25);
    else if (key === "-" || key === "_") zoom(0.8);
    else if (key === "h") $("overlay").classList.toggle("hidden");
    else return;
    e.preventDefault();
  });
}

async function main() {
  try {
    state.session = await api("GET", "/api/session");
  } catch (err) {
    status(`cannot start: ${err.message}`, true);
    return;
  }
  const s = state.session;
  $("mode").textContent = s.mode === "review" ? "review" : "labeling";
  $("total").textContent = s.total;
  $("output").textContent = s.output;
  if (s.mode === "review") {
    const slider = $("threshold");
    const [lo, hi] = s.score_range;
    slider.min = lo;
    slider.max = hi;
    slider.step = hi > lo ? (hi - lo) / 1000 : "any";
    slider.value = s.threshold;
    state.preview = Number(slider.value);
    if (Math.abs(state.preview - s.threshold) <= (hi - lo) / 2000) state.preview = s.threshold;
    $("review").hidden = false;
    updateReview();
  }
  state.index = s.current;
  fillJump();
  bindEvents();
  await show(s.current);
}

main();
