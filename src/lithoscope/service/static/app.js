// lithoscope web page: a plain ES module over the service's JSON API (no build step).
// Every request goes to this page's own origin; Plotly is the copy the server vendors.

const METHODS = ["raman", "ir", "libs", "vnir", "xrd"];
const BODY_NAMES = { moon: "Moon", mars: "Mars", meteorite: "Meteorites", earth: "Earth" };
const PAGE_SIZE = 25;

const $ = (sel) => document.querySelector(sel);

/** An element: h("td", {class: "num"}, "0.91", child...). Text is always set as text. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const pct = (p) => (p === null || p === undefined ? "–" : `${(100 * p).toFixed(p > 0.995 || p < 0.005 ? 1 : 0)} %`);
const num = (x, d = 2) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));

/** The API's JSON, or an Error carrying its one-line ``detail`` (and per-file ``errors``). */
async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  } catch (exc) {
    throw new Error(`the service at ${location.origin} does not answer (${exc.message})`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const err = new Error(body?.detail || `${response.status} ${response.statusText}`);
    err.errors = body?.errors || [];
    err.status = response.status;
    throw err;
  }
  return body;
}

function showError(box, message) {
  box.textContent = message;
  box.hidden = !message;
}

// ------------------------------------------------------------------ service status
async function watchReadiness() {
  const status = $("#status");
  try {
    const ready = await api("/readyz");
    const models = await api("/v1/models");
    const served = (models.served || []).map((m) => `${m.model} (${m.methods.join(", ")})`);
    status.textContent = `Ready: ${served.join("; ") || ready.models.join(", ")}`;
    status.className = "status ready";
  } catch (exc) {
    status.textContent = exc.status === 503 ? `Loading: ${exc.message}` : `Not ready: ${exc.message}`;
    status.className = "status problem";
    setTimeout(watchReadiness, 2000);
  }
}

// ------------------------------------------------------------------ files
const chosen = []; // [{file, method}] in order

function setFiles(fileList) {
  chosen.length = 0;
  for (const file of fileList) chosen.push({ file, method: "" });
  renderFileList();
}

function renderFileList() {
  const list = $("#file-list");
  list.replaceChildren();
  chosen.forEach((item, i) => {
    const id = `method-${i}`;
    const select = h(
      "select",
      { id, onchange: (e) => (item.method = e.target.value) },
      h("option", { value: "" }, "detect"),
      METHODS.map((m) => h("option", { value: m, selected: item.method === m }, m)),
    );
    list.append(
      h(
        "li",
        {},
        h("span", { class: "name" }, item.file.name),
        h("label", { for: id }, "Method"),
        select,
        h("button", { type: "button", "aria-label": `Remove ${item.file.name}`, onclick: () => {
          chosen.splice(i, 1);
          renderFileList();
        } }, "Remove"),
      ),
    );
  });
}

function setupDropzone() {
  const input = $("#files");
  const zone = $("#dropzone");
  input.addEventListener("change", () => setFiles(input.files));
  // the input covers the zone, so a drop lands on it natively; this only shows the state
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, () => zone.classList.add("dragging"));
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("dragging"));
  }
}

// ------------------------------------------------------------------ identify
function optionFields(form) {
  const fields = new FormData();
  const body = $("#body").value;
  if (body) fields.append("body", body);
  fields.append("top", $("#top").value || "5");
  fields.append("confidence", $("#confidence").value);
  fields.append("mixture", $("#mixture").checked ? "true" : "false");
  fields.append("explain", $("#explain").checked ? "true" : "false");
  fields.append("plot", "true");
  return fields;
}

/** One request for all files: each file's method, or "auto" (detected from its content);
 * with "one sample" the files form one measurement and get one fused answer. */
function requestsFor(items) {
  const fields = optionFields();
  if ($("#fuse").checked && items.length > 1) fields.append("group", "measurement");
  for (const x of items) {
    fields.append("files", x.file, x.file.name);
    fields.append("methods", x.method || "auto");
  }
  return [fields];
}

async function identify(event) {
  event.preventDefault();
  const error = $("#identify-error");
  const results = $("#results");
  const button = $("#identify-button");
  showError(error, "");
  if (!chosen.length) {
    showError(error, "choose or drop at least one spectrum file first");
    $("#files").focus();
    return;
  }
  button.disabled = true;
  results.setAttribute("aria-busy", "true");
  results.replaceChildren(h("p", { class: "hint" }, "Identifying…"));
  const answers = [];
  const problems = [];
  const repaired = [];
  for (const fields of requestsFor(chosen)) {
    try {
      const doc = await api("/v1/identify", { method: "POST", body: fields });
      answers.push(...doc.results);
      problems.push(...doc.errors);
      repaired.push(...doc.warnings);
    } catch (exc) {
      problems.push(...(exc.errors?.length ? exc.errors : [{ input: "request", detail: exc.message }]));
      if (!exc.errors?.length) showError(error, exc.message);
    }
  }
  results.replaceChildren();
  if (problems.length) {
    results.append(
      h("div", { class: "error", role: "alert" },
        h("strong", {}, "Not answered"),
        h("ul", {}, problems.map((p) => h("li", {}, `${p.input}: ${p.detail}`)))),
    );
  }
  if (repaired.length) {
    results.append(h("ul", { class: "warnings" }, repaired.map((w) => h("li", {}, `${w.input}: ${w.detail}`))));
  }
  answers.forEach((a, i) => results.append(renderAnswer(a, `answer-${i}`)));
  results.setAttribute("aria-busy", "false");
  button.disabled = false;
}

function renderAnswer(a, id) {
  const isMixture = "minerals" in a && "abundance_unit" in a;
  const box = h("article", { class: "answer", id, "aria-labelledby": `${id}-title`, dataset: { kind: isMixture ? "mixture" : "identification" } });
  box.append(
    h("div", { class: "answer-head" },
      h("h3", { id: `${id}-title` }, a.input),
      h("span", { class: "meta" }, `${a.method} · ${a.model}${a.sample_id ? ` · sample ${a.sample_id}` : ""}`)),
  );
  if (a.refused) {
    box.append(h("p", { class: "banner refused", role: "alert" }, `Not identified: ${a.refused}`));
  }
  if (isMixture) renderMixture(box, a, id);
  else renderIdentification(box, a, id);
  if (a.warnings?.length) {
    box.append(h("ul", { class: "warnings", "aria-label": "Warnings" }, a.warnings.map((w) => h("li", {}, w))));
  }
  return box;
}

function mineralButton(name) {
  return h("button", { type: "button", class: "link mineral-link", dataset: { mineral: name }, onclick: () => openCard(name) }, name);
}

function renderIdentification(box, a, id) {
  if (a.unknown) {
    box.append(h("p", { class: "banner unknown", role: "alert", "data-testid": "unknown" },
      `Unknown: this spectrum is not like any mineral the model knows (score ${num(a.unknown_score, 3)}); the candidates are only the closest matches.`));
  }
  const best = a.candidates?.[0];
  if (best) {
    box.append(h("p", { class: "top-answer" }, "Best match: ",
      h("strong", { class: "top-mineral" }, best.mineral), ` ${pct(best.probability)}`,
      best.formula ? h("span", { class: "formula" }, ` ${best.formula}`) : null));
  }
  renderPredictionSet(box, a);
  if (a.group) {
    const g = a.group;
    box.append(h("p", { class: "group" },
      `Group: ${g.name} (${pct(g.probability)}, answered at ${g.level} level)`,
      g.species?.length ? ` – species: ${g.species.join(", ")}` : ""));
  }
  if (a.composition) box.append(renderComposition(a.composition));
  if (a.candidates?.length) box.append(candidateTable(a, id));
  if (a.plot) box.append(plotBox(id, (div) => drawIdentification(div, a)));
  if (a.explanation) box.append(renderExplanation(a.explanation));
  if (a.by_method && Object.keys(a.by_method).length) {
    box.append(h("h4", {}, `Fused from ${(a.methods || Object.keys(a.by_method)).join(" + ")}; each method alone:`));
    for (const [method, sub] of Object.entries(a.by_method)) {
      const d = h("details", { class: "by-method" }, h("summary", {}, `${method}: ${sub.candidates?.[0]?.mineral ?? sub.refused ?? "no answer"}`));
      renderIdentification(d, sub, `${id}-${method}`);
      box.append(d);
    }
  }
}

function renderPredictionSet(box, a) {
  if (a.prediction_set === null || a.prediction_set === undefined) {
    box.append(h("p", { class: "hint prediction-set" }, "No prediction set (the model is not calibrated)."));
    return;
  }
  const level = a.confidence_level ? `${Math.round(100 * a.confidence_level)} %` : "";
  box.append(h("div", { class: "prediction-set", "data-testid": "prediction-set" },
    h("span", {}, `${level} prediction set (${a.prediction_set.length}): `),
    a.prediction_set.length
      ? h("ul", { class: "chips", "aria-label": "Prediction set" }, a.prediction_set.map((m) => h("li", { class: "chip" }, m)))
      : h("span", { class: "hint" }, "empty: no mineral is plausible at this level")));
}

function renderComposition(c) {
  const parts = Object.entries(c)
    .filter(([k]) => k !== "method" && !k.endsWith("_sd"))
    .map(([k, v]) => `${k} ${num(v, 1)}${c[`${k}_sd`] !== undefined ? ` ± ${num(c[`${k}_sd`], 1)}` : ""} mol %`);
  return h("p", { class: "composition" }, "Composition: ", h("strong", {}, parts.join(", ")), c.method ? h("span", { class: "meta" }, ` (${c.method})`) : null);
}

function consistencyCell(c) {
  if (!c.consistency) return h("td", {}, "–");
  const bad = c.consistency.contradictions?.length;
  return h("td", { class: bad ? "flag-bad" : "flag-ok" },
    bad ? `✗ ${c.consistency.contradictions.join("; ")}` : `✓ consistent (${num(c.consistency.score, 2)})`);
}

function candidateTable(a, id) {
  const hasConsistency = a.candidates.some((c) => c.consistency);
  const rows = a.candidates.map((c, i) => h("tr", {},
    h("td", { class: "num" }, i + 1),
    h("td", {}, mineralButton(c.mineral)),
    h("td", { class: "num" }, pct(c.probability), h("span", { class: "bar", style: `width:${Math.max(1, Math.round(60 * c.probability))}px`, "aria-hidden": "true" })),
    h("td", { class: "formula" }, c.formula ?? "–"),
    h("td", {}, (c.bodies || []).map((b) => BODY_NAMES[b] || b).join(", ") || "–",
      c.reported_on_body === false ? h("span", { class: "flag-bad" }, " (not reported on this body)") : null),
    hasConsistency ? consistencyCell(c) : null));
  return h("div", { class: "table-wrap" },
    h("table", { class: "table candidates", id: `${id}-candidates` },
      h("caption", { class: "visually-hidden" }, "Candidates, best first"),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "#"), h("th", { scope: "col" }, "Mineral"), h("th", { scope: "col" }, "Probability"),
        h("th", { scope: "col" }, "Formula"), h("th", { scope: "col" }, "Reported on"),
        hasConsistency ? h("th", { scope: "col" }, "Chemistry") : null)),
      h("tbody", {}, rows)));
}

function renderExplanation(e) {
  const regions = (e.top_regions || []).map(([a, b, w]) => `${num(a, 0)}–${num(b, 0)} (${pct(w)})`);
  const peaks = e.peaks || [];
  const minerals = peaks.length ? Object.keys(peaks[0].matches || {}) : [];
  return h("details", { class: "explanation" },
    h("summary", {}, `Why ${e.target}: regions ${regions.join(", ") || "–"}`),
    peaks.length ? h("div", { class: "table-wrap" }, h("table", { class: "table" },
      h("caption", {}, "Peaks of the spectrum and the reference bands they match"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Peak"), h("th", { scope: "col" }, "Intensity"),
        minerals.map((m) => h("th", { scope: "col" }, m)))),
      h("tbody", {}, peaks.map((p) => h("tr", {}, h("td", { class: "num" }, num(p.position, 1)),
        h("td", { class: "num" }, num(p.intensity, 2)),
        minerals.map((m) => h("td", { class: "num" }, p.matches[m] === null ? "–" : num(p.matches[m], 1)))))))) : null,
    (e.candidates || []).length ? h("p", { class: "meta" }, e.candidates.map((c) =>
      `${c.mineral}: ${c.matched}/${c.n_reference_bands} reference bands found (${pct(c.match_fraction)} of their intensity)`).join("; ")) : null);
}

function renderMixture(box, a, id) {
  if (a.rock) {
    box.append(h("details", { class: "rock", open: true },
      h("summary", {}, "Rock: ", h("strong", { class: "rock-name" }, a.rock.name), ` (${a.rock.scheme}, ${a.rock.field})`),
      h("ol", {}, (a.rock.reasoning || []).map((r) => h("li", {}, r)))));
  } else if (!a.refused) {
    box.append(h("p", { class: "hint" }, "No rock name (the minerals found do not make a named rock)."));
  }
  renderPredictionSet(box, a);
  if (a.minerals?.length) {
    const chem = a.minerals.some((m) => m.chemistry);
    box.append(h("div", { class: "table-wrap" }, h("table", { class: "table mixture", id: `${id}-mixture` },
      h("caption", { class: "visually-hidden" }, "Minerals of the mixture"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Mineral"), h("th", { scope: "col" }, "Present"),
        h("th", { scope: "col" }, `Abundance (${a.abundance_unit})`), h("th", { scope: "col" }, "Formula"),
        chem ? h("th", { scope: "col" }, "Chemistry") : null)),
      h("tbody", {}, a.minerals.map((m) => h("tr", {},
        h("td", {}, mineralButton(m.mineral)),
        h("td", {}, `${m.present ? "yes" : "possible"} (${pct(m.present_probability)})`),
        h("td", { class: "num" }, `${num(m.abundance, 1)} ± ${num(m.abundance_sd, 1)}`),
        h("td", { class: "formula" }, m.formula ?? "–"),
        chem ? h("td", {}, m.chemistry ? Object.entries(m.chemistry).map(([k, v]) =>
          `${k} ${num(v, 1)}${m.chemistry_sd?.[k] !== undefined ? ` ± ${num(m.chemistry_sd[k], 1)}` : ""}`).join(", ") : "–") : null))))));
  }
  if (a.plot) box.append(plotBox(id, (div) => drawMixture(div, a)));
}

// ------------------------------------------------------------------ plots
function plotBox(id, draw) {
  const div = h("div", { class: "plot", id: `${id}-plot`, role: "img", "aria-label": "Spectrum plot" });
  // drawn once it is in the page (Plotly needs its size)
  requestAnimationFrame(() => {
    if (!window.Plotly) {
      div.replaceChildren(h("p", { class: "error" }, "Plotly did not load from /static/vendor/plotly.min.js; install the 'service' extra (plotly)."));
      return;
    }
    draw(div);
  });
  return div;
}

const LAYOUT = {
  margin: { l: 50, r: 20, t: 30, b: 45 },
  legend: { orientation: "h", y: -0.2 },
  hovermode: "x unified",
  font: { family: "system-ui, sans-serif", size: 12 },
};
const CONFIG = { responsive: true, displaylogo: false, toImageButtonOptions: { format: "png" } };

function drawIdentification(div, a) {
  const p = a.plot;
  const traces = [{ x: p.axis, y: p.spectrum, name: a.input, mode: "lines", line: { color: "#111", width: 1.4 } }];
  if (p.reference) {
    const r = p.reference;
    traces.push({ x: p.axis, y: r.intensities, name: `${r.mineral} reference ${r.sample_id ?? ""} (r = ${num(r.r, 2)})`, mode: "lines", line: { color: "#d1495b", width: 1.1 } });
  }
  const shapes = [];
  if (p.attribution) {
    const peak = Math.max(...p.attribution.map((v) => Math.abs(v ?? 0))) || 1;
    traces.push({ x: p.axis, y: p.attribution.map((v) => Math.abs(v ?? 0) / peak), name: "attribution", yaxis: "y2", mode: "lines", fill: "tozeroy", line: { width: 0, color: "rgba(255,159,28,0.6)" }, fillcolor: "rgba(255,159,28,0.30)", hoverinfo: "skip" });
  }
  for (const [x0, x1] of a.explanation?.top_regions || []) {
    shapes.push({ type: "rect", xref: "x", yref: "paper", x0, x1, y0: 0, y1: 1, fillcolor: "rgba(255,159,28,0.15)", line: { width: 0 }, layer: "below" });
  }
  window.Plotly.newPlot(div, traces, {
    ...LAYOUT,
    title: { text: a.candidates?.[0] ? `${a.candidates[0].mineral}: spectrum and best reference` : "spectrum", font: { size: 13 } },
    xaxis: { title: { text: p.unit || "axis" } },
    yaxis: { title: { text: "normalised intensity" } },
    yaxis2: { overlaying: "y", side: "right", range: [0, 4], visible: false, fixedrange: true },
    shapes,
  }, CONFIG);
}

function drawMixture(div, a) {
  const p = a.plot;
  const traces = [
    { x: p.axis, y: p.spectrum, name: a.input, mode: "lines", line: { color: "#111", width: 1.4 } },
    { x: p.axis, y: p.fitted, name: "fitted mixture", mode: "lines", line: { color: "#d1495b", dash: "dash", width: 1.1 } },
  ];
  let offset = 0;
  const byName = Object.fromEntries((a.minerals || []).map((m) => [m.mineral, m]));
  for (const [name, comp] of Object.entries(p.components || {})) {
    offset -= 0.6;
    const m = byName[name];
    const label = m ? `${name} ${num(m.abundance, 0)} ± ${num(m.abundance_sd, 0)} vol %` : name;
    traces.push({ x: p.axis, y: comp.map((v) => (v === null ? null : v + offset)), name: label, mode: "lines", line: { width: 1 } });
  }
  traces.push({ x: p.axis, y: p.residual, name: "residual", mode: "lines", yaxis: "y2", line: { color: "#888", width: 0.8 } });
  window.Plotly.newPlot(div, traces, {
    ...LAYOUT,
    title: { text: a.rock ? `rock: ${a.rock.name}` : "mixture fit", font: { size: 13 } },
    yaxis: { domain: [0.3, 1], title: { text: "intensity (components offset)" } },
    yaxis2: { domain: [0, 0.22], title: { text: "residual" } },
    xaxis: { anchor: "y2", title: { text: `${a.method} axis` } },
  }, CONFIG);
}

// ------------------------------------------------------------------ mineral card
let cardOpener = null;

async function openCard(name) {
  const card = $("#card");
  if (card.hidden) cardOpener = document.activeElement;
  const body = $("#card-body");
  card.hidden = false;
  document.querySelector(".layout").classList.add("with-card");
  $("#card-title").textContent = name;
  body.replaceChildren(h("p", { class: "hint" }, "Loading…"));
  card.focus();
  try {
    const c = await api(`/v1/minerals/${encodeURIComponent(name)}`);
    body.replaceChildren(renderCard(c));
  } catch (exc) {
    body.replaceChildren(h("p", { class: "error", role: "alert" }, exc.message));
  }
}

function fact(term, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return [];
  return [h("dt", {}, term), h("dd", {}, value)];
}

function renderCard(c) {
  $("#card-title").textContent = c.name;
  const out = h("div", { class: "card-content", dataset: { mineral: c.name } });
  if (c.kind === "group") {
    out.append(h("p", {}, `A group of ${c.members?.length ?? 0} species:`),
      h("ul", {}, (c.members || []).map((m) => h("li", {}, mineralButton(m.name), " ", h("span", { class: "formula" }, m.formula)))));
  } else {
    out.append(h("dl", { class: "facts" },
      fact("Formula", h("span", { class: "formula card-formula" }, c.formula)),
      fact("Crystal system", c.crystal_system),
      fact("Space group", c.space_group),
      fact("Class", c.mineral_class),
      fact("Structural group", c.structural_group),
      fact("Elements", c.elements?.length ? h("ul", { class: "chips" }, c.elements.map((e) => h("li", { class: "chip" }, e))) : null),
      fact("Groups", (c.groups || []).join(", ")),
      fact("Also called", (c.aliases || []).join(", ")),
      fact("IMA status", c.ima_status)));
  }
  out.append(renderOccurrences(c.occurrences || []));
  if (c.kind !== "group") {
    out.append(h("button", { type: "button", class: "show-spectra", onclick: (e) => showSpectra(c.name, e.target) }, "Show reference spectra"));
  }
  return out;
}

function renderOccurrences(occurrences) {
  const wanted = $("#body").value;
  const order = ["moon", "mars", "meteorite", "earth"];
  const bodies = [...new Set(occurrences.map((o) => o.body))].sort((a, b) =>
    (a === wanted ? -1 : b === wanted ? 1 : order.indexOf(a) - order.indexOf(b)));
  const box = h("div", { class: "occurrences-box" }, h("h3", {}, "Where it occurs"));
  if (!bodies.length) box.append(h("p", { class: "hint" }, "No occurrence on the Moon, Mars or in meteorites is recorded in MinDB."));
  for (const body of bodies) {
    const list = occurrences.filter((o) => o.body === body);
    box.append(h("details", { class: "body-occurrences", dataset: { body }, open: body === wanted || bodies.length === 1 || body === bodies[0] },
      h("summary", {}, `${BODY_NAMES[body] || body} (${list.length})`),
      h("ul", { class: "occurrences" }, list.map((o) => h("li", { class: "occurrence" },
        h("div", { class: "occurrence-setting" }, o.setting),
        h("div", { class: "meta" }, [o.evidence, o.abundance, o.confidence].filter(Boolean).join(" · ")),
        o.note ? h("div", { class: "meta" }, o.note) : null,
        h("div", { class: "citation" }, o.source || "no source recorded",
          o.doi ? [" ", h("a", { href: `https://doi.org/${o.doi}`, rel: "noopener noreferrer", target: "_blank" }, `doi:${o.doi}`)] : null))))));
  }
  return box;
}

async function showSpectra(name, button) {
  const holder = h("div", { class: "card-spectra" });
  button.replaceWith(holder);
  holder.append(h("p", { class: "hint" }, "Loading spectra…"));
  try {
    const page = await api(`/v1/minerals/${encodeURIComponent(name)}/spectra?limit=6`);
    holder.replaceChildren();
    if (!page.items.length) {
      holder.append(h("p", { class: "hint" }, `MinDB holds no spectrum of ${page.mineral}.`));
      return;
    }
    const methods = [...new Set(page.items.map((s) => s.method))];
    holder.append(h("h3", {}, `Reference spectra (${page.items.length}${page.next_offset !== null ? "+" : ""})`));
    for (const method of methods) {
      const items = page.items.filter((s) => s.method === method);
      const div = h("div", { class: "plot card-plot", role: "img", "aria-label": `${method} reference spectra of ${page.mineral}` });
      holder.append(div);
      const traces = items.map((s) => {
        const top = Math.max(...s.intensities.map(Math.abs)) || 1;
        return { x: s.axis, y: s.intensities.map((v) => v / top), name: s.metadata.sample_id || s.metadata.file || `spectrum ${s.metadata.spectrum_id}`, mode: "lines", line: { width: 1 } };
      });
      if (window.Plotly) {
        window.Plotly.newPlot(div, traces, { ...LAYOUT, title: { text: `${method}`, font: { size: 13 } }, xaxis: { title: { text: items[0].unit } }, yaxis: { title: { text: "intensity (max = 1)" } } }, CONFIG);
      }
    }
  } catch (exc) {
    holder.replaceChildren(h("p", { class: "error", role: "alert" }, exc.message));
  }
}

function closeCard() {
  $("#card").hidden = true;
  document.querySelector(".layout").classList.remove("with-card");
  if (cardOpener && document.contains(cardOpener)) cardOpener.focus();
  cardOpener = null;
}

// ------------------------------------------------------------------ MinDB browser
let browserOffset = 0;

async function browse(offset = 0) {
  const error = $("#browser-error");
  showError(error, "");
  const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(offset) });
  const body = $("#filter-body").value;
  if (body) params.append("body", body);
  for (const el of $("#filter-element").value.split(/[\s,;]+/).filter(Boolean)) params.append("element", el);
  const q = $("#filter-q").value.trim();
  if (q) params.append("q", q);
  const tbody = $("#browser-table tbody");
  try {
    const page = await api(`/v1/minerals?${params}`);
    browserOffset = page.offset;
    tbody.replaceChildren(...page.items.map((m) => h("tr", {},
      h("td", {}, mineralButton(m.name)),
      h("td", { class: "formula" }, m.formula),
      h("td", {}, m.mineral_class ?? "–"),
      h("td", {}, m.crystal_system ?? "–"),
      h("td", {}, (m.bodies || []).map((b) => BODY_NAMES[b] || b).join(", ")))));
    const first = page.items.length ? page.offset + 1 : 0;
    $("#browser-summary").textContent = page.items.length
      ? `Minerals ${first}–${page.offset + page.items.length}${page.next_offset !== null ? " (more on the next page)" : ""}`
      : "No mineral matches these filters.";
    $("#browser-prev").disabled = page.offset === 0;
    $("#browser-next").disabled = page.next_offset === null;
    $("#browser-next").dataset.offset = page.next_offset ?? "";
  } catch (exc) {
    showError(error, exc.message);
  }
}

function setupBrowser() {
  $("#browser-form").addEventListener("submit", (e) => {
    e.preventDefault();
    browse(0);
  });
  $("#browser-prev").addEventListener("click", () => browse(Math.max(0, browserOffset - PAGE_SIZE)));
  $("#browser-next").addEventListener("click", (e) => browse(Number(e.target.dataset.offset)));
}

// ------------------------------------------------------------------ start
function start() {
  setupDropzone();
  setupBrowser();
  $("#identify-form").addEventListener("submit", identify);
  $("#card-close").addEventListener("click", closeCard);
  $("#card").addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeCard();
  });
  $("#body").addEventListener("change", () => {
    const body = $("#body").value;
    if (["moon", "mars", "meteorite"].includes(body)) {
      $("#filter-body").value = body;
      browse(0);
    }
  });
  watchReadiness();
  browse(0);
  document.documentElement.dataset.ready = "true";
}

start();
