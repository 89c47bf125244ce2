// The main chart: one metric as an SVG line over its time buckets (and the compared period as
// a dashed one), drawn with DOM calls (no library, no HTML strings).
const SVG = "http://www.w3.org/2000/svg";

function node(tag, attributes, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attributes)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}

/// An axis label: "13:00" within one day, "12-01 13:00" across days, "2026-12" for a month.
function short(label, interval, days) {
  const [date, time] = label.split(" ");
  if (time) return days > 1 ? `${date.slice(5)} ${time.slice(0, 5)}` : time.slice(0, 5);
  return interval === "month" ? date.slice(0, 7) : date;
}

export function drawChart(figure, answer, label, interval = "day") {
  const labels = answer.meta?.time_labels ?? answer.results.map((r) => r.dimensions[0]);
  const byLabel = new Map(answer.results.map((r) => [r.dimensions[0], r]));
  const values = labels.map((l) => byLabel.get(l)?.metrics[0] ?? 0);
  // The comparison period, paired by position, as a second (dashed) line.
  const compared = answer.meta?.comparison_date_range
    ? labels.map((l) => byLabel.get(l)?.comparison?.metrics[0] ?? 0)
    : null;
  const width = 800, height = 220, left = 44, bottom = 24, top = 10;
  // An even top, so that the middle line is a whole number too.
  const highest = Math.max(1, ...values, ...(compared ?? []));
  const max = highest > 1 ? Math.ceil(highest / 2) * 2 : 1;
  const x = (i) => left + (values.length > 1 ? (i * (width - left - 8)) / (values.length - 1) : (width - left) / 2);
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${label} over time` });
  for (const v of max > 1 ? [0, max / 2, max] : [0, max]) {
    svg.append(node("line", { x1: left, x2: width, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(node("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, Math.round(v).toLocaleString()));
  }
  if (compared) {
    const before = compared.map((v, i) => `${x(i)},${y(v)}`).join(" ");
    svg.append(node("polyline", { points: before, class: "line compared" }));
  }
  const points = values.map((v, i) => `${x(i)},${y(v)}`).join(" ");
  svg.append(node("polyline", { points, class: "line" }));
  values.forEach((v, i) => {
    const dot = node("circle", { cx: x(i), cy: y(v), r: values.length > 100 ? 1.5 : 3, class: "dot" });
    dot.append(node("title", {}, `${labels[i]}: ${v.toLocaleString()} ${label.toLowerCase()}`));
    svg.append(dot);
  });
  if (labels.length) {
    const first = labels[0], last = labels[labels.length - 1];
    const days = new Set(labels.map((l) => l.slice(0, 10))).size;
    svg.append(node("text", { x: left, y: height - 6, class: "axis" }, short(first, interval, days)));
    if (labels.length > 1) {
      svg.append(node("text", { x: width, y: height - 6, "text-anchor": "end", class: "axis" }, short(last, interval, days)));
    }
  }
  figure.replaceChildren(svg);
}
