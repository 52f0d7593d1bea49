/**
 * The HTML of a run report: one self-contained file (inline CSS and SVG, no script, no network) drawn from a
 * {@link Recorder}: attempts in flight per host against the cap, the latency distribution with p50/p95/p99, the
 * outcomes by kind, retries and breaker openings on the timeline, and the limit of each adaptive limiter.
 * Every series carries `data-chart`, `data-series` and `data-points` so a test can check what was drawn.
 *
 * @internal
 */
import * as Metrics from "@async-ops/core/Metrics"
import type { Recorder } from "./report.ts"

const W = 860
const PAD = { left: 56, right: 16, top: 18, bottom: 34 }
const COLORS = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d", "#7c3aed"]

/** @internal */
export const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** Nearest-rank percentile (the rule of the demo's summary, `Metrics.percentile`); 0 for no values. */
const percentile = (sorted: ReadonlyArray<number>, p: number): number => Metrics.percentile(sorted, p) ?? 0

const fmt = (n: number): string =>
  Number.isInteger(n)
    ? String(n)
    : n >= 100
    ? n.toFixed(0)
    : n >= 10
    ? n.toFixed(1)
    : n.toFixed(2).replace(/\.?0+$/, "") || "0"

/** A "nice" axis maximum and step for values up to `max`. */
const niceScale = (max: number, ticks = 5): { readonly max: number; readonly step: number } => {
  if (!(max > 0)) return { max: 1, step: 1 }
  const raw = max / ticks
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!
  return { max: Math.ceil(max / step) * step, step }
}

interface Frame {
  readonly height: number
  readonly xMax: number
  readonly yMax: number
  readonly x: (v: number) => number
  readonly y: (v: number) => number
}

const frame = (height: number, xMax: number, yMaxRaw: number, xLabel: string, yLabel: string) => {
  const xs = niceScale(xMax)
  const ys = niceScale(yMaxRaw, 4)
  const plotW = W - PAD.left - PAD.right
  const plotH = height - PAD.top - PAD.bottom
  const f: Frame = {
    height,
    xMax: xs.max,
    yMax: ys.max,
    x: (v) => PAD.left + (v / xs.max) * plotW,
    y: (v) => PAD.top + plotH - (v / ys.max) * plotH
  }
  let axes = `<g class="axes" font-size="11" fill="#555">`
  for (let v = 0; v <= ys.max + 1e-9; v += ys.step) {
    axes += `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${f.y(v)}" y2="${f.y(v)}" stroke="#eee"/>`
    axes += `<text x="${PAD.left - 6}" y="${f.y(v) + 4}" text-anchor="end">${fmt(v)}</text>`
  }
  for (let v = 0; v <= xs.max + 1e-9; v += xs.step) {
    axes += `<text x="${f.x(v)}" y="${height - PAD.bottom + 16}" text-anchor="middle">${fmt(v)}</text>`
  }
  axes += `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${f.y(0)}" y2="${f.y(0)}" stroke="#999"/>`
  axes += `<text x="${W - PAD.right}" y="${height - 4}" text-anchor="end">${escapeHtml(xLabel)}</text>`
  axes += `<text x="4" y="12">${escapeHtml(yLabel)}</text></g>`
  return { f, axes }
}

const svg = (chart: string, height: number, body: string, title: string) =>
  `<svg data-chart="${chart}" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}" role="img" ` +
  `aria-label="${escapeHtml(title)}">${body}</svg>`

/** Step path through `points` ([x, y] sorted by x), held until `xEnd`. */
const stepPath = (f: Frame, points: ReadonlyArray<readonly [number, number]>, xEnd: number): string => {
  if (points.length === 0) return ""
  let d = `M${f.x(points[0]![0]).toFixed(1)},${f.y(points[0]![1]).toFixed(1)}`
  for (let i = 1; i < points.length; i++) {
    const [x, y] = points[i]!
    d += `H${f.x(x).toFixed(1)}V${f.y(y).toFixed(1)}`
  }
  return `${d}H${f.x(xEnd).toFixed(1)}`
}

/**
 * The in-flight level of each host over time, bucketed: each bucket keeps the highest level reached in it (so a
 * peak is never averaged away).
 */
const inFlightSeries = (r: Recorder, buckets: number): Array<Array<readonly [number, number]>> => {
  const end = Math.max(1, r.endedAt)
  const width = end / buckets
  const events = r.inFlight.toSorted((a, b) => a[0] - b[0] || a[2] - b[2])
  return r.hosts.map((_, host) => {
    const peak = Array.from({ length: buckets }, () => 0)
    let level = 0
    let bucket = 0
    for (const [t, h, delta] of events) {
      if (h !== host) continue
      const b = Math.min(buckets - 1, Math.floor(t / width))
      for (; bucket < b; bucket++) peak[bucket + 1] = Math.max(peak[bucket + 1]!, level)
      level += delta
      peak[b] = Math.max(peak[b]!, level)
    }
    for (; bucket < buckets - 1; bucket++) peak[bucket + 1] = Math.max(peak[bucket + 1]!, level)
    return peak.map((v, i) => [(i * width) / 1000, v] as const)
  })
}

/** Distinct circuit openings: when each opened (ms since start), per host (the demo summary's rule). */
export const openings = (r: Recorder): Array<{ readonly host: string; readonly at: number }> => {
  const open = r.info.openDurationMs
  if (open === undefined) return []
  const byHost = new Map<string, Array<number>>()
  for (const x of r.rejections) {
    const list = byHost.get(x.host) ?? []
    list.push(x.at + x.retryAfterMs - open)
    byHost.set(x.host, list)
  }
  const out: Array<{ host: string; at: number }> = []
  for (const [host, list] of byHost) {
    let last = Number.NEGATIVE_INFINITY
    for (const at of list.toSorted((a, b) => a - b)) {
      if (at - last > open / 4) out.push({ host, at: Math.max(0, at) })
      last = at
    }
  }
  return out.toSorted((a, b) => a.at - b.at)
}

const legend = (items: ReadonlyArray<readonly [string, string, boolean?]>) =>
  `<div class="legend">${
    items.map(([name, color, dashed]) =>
      `<span><i style="border-top:2px ${dashed === true ? "dashed" : "solid"} ${color}"></i>${escapeHtml(name)}</span>`
    ).join("")
  }</div>`

const inFlightChart = (r: Recorder): string => {
  const seconds = Math.max(0.001, r.endedAt / 1000)
  const series = inFlightSeries(r, 300)
  const peak = Math.max(1, ...series.flatMap((s) => s.map(([, v]) => v)))
  const cap = r.info.perHostCap
  const { axes, f } = frame(260, seconds, Math.max(peak, Number.isFinite(cap) ? cap : 0) * 1.1, "seconds", "in flight")
  let body = axes
  if (Number.isFinite(cap)) {
    body += `<line data-series="cap" x1="${PAD.left}" x2="${W - PAD.right}" y1="${f.y(cap)}" y2="${
      f.y(cap)
    }" stroke="#dc2626" stroke-dasharray="6 4"/>`
    body += `<text x="${W - PAD.right - 4}" y="${f.y(cap) - 4}" font-size="11" fill="#dc2626" text-anchor="end">cap ${
      fmt(cap)
    } per host</text>`
  }
  series.forEach((points, i) => {
    body += `<path class="series" data-series="${escapeHtml(r.hosts[i]!)}" data-points="${points.length}" d="${
      stepPath(f, points, seconds)
    }" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"/>`
  })
  const peaks = series.map((s) => Math.max(0, ...s.map(([, v]) => v)))
  return svg("inflight", 260, body, "attempts in flight per host") +
    legend([
      ...r.hosts.map((h, i) => [`${h} (peak ${peaks[i]})`, COLORS[i % COLORS.length]!] as const),
      ...(Number.isFinite(cap) ? [[`cap per host (${cap})`, "#dc2626", true] as const] : [])
    ])
}

const latencyChart = (r: Recorder): string => {
  const sorted = r.latencies.toSorted((a, b) => a - b)
  if (sorted.length === 0) return `<p class="none">no latency measured</p>`
  const p50 = percentile(sorted, 50)
  const p95 = percentile(sorted, 95)
  const p99 = percentile(sorted, 99)
  const max = sorted[sorted.length - 1]!
  // the bins cover up to a bit past p99; slower calls fall in the last bin, labelled as such
  const top = Math.max(p99 * 1.25, 1)
  const bins = 48
  const counts = Array.from({ length: bins }, () => 0)
  for (const v of sorted) counts[Math.min(bins - 1, Math.floor((v / top) * bins))]!++
  const { axes, f } = frame(260, top, Math.max(...counts) * 1.1, "milliseconds (last bin: slower)", "calls")
  let body = axes
  const bw = (f.x(top) - f.x(0)) / bins
  body += `<g class="series" data-series="latency" data-points="${bins}">`
  counts.forEach((c, i) => {
    body += `<rect x="${(f.x(0) + i * bw + 0.5).toFixed(1)}" y="${f.y(c).toFixed(1)}" width="${
      Math.max(0.5, bw - 1).toFixed(1)
    }" height="${(f.y(0) - f.y(c)).toFixed(1)}" fill="#93c5fd"><title>${c}</title></rect>`
  })
  body += `</g>`
  for (
    const [label, v, color] of [["p50", p50, "#16a34a"], ["p95", p95, "#ea580c"], ["p99", p99, "#dc2626"]] as const
  ) {
    body += `<g data-marker="${label}" data-value="${v}"><line x1="${f.x(v)}" x2="${f.x(v)}" y1="${PAD.top}" y2="${
      f.y(0)
    }" stroke="${color}" stroke-width="2"/><text x="${f.x(v) + 3}" y="${
      PAD.top + 10
    }" font-size="11" fill="${color}">${label} ${fmt(v)} ms</text></g>`
  }
  return svg("latency", 260, body, "latency distribution") +
    `<p class="stats">${sorted.length} calls · p50 <b>${fmt(p50)}</b> ms · p95 <b>${fmt(p95)}</b> ms · p99 <b>${
      fmt(p99)
    }</b> ms · max ${fmt(max)} ms</p>`
}

const outcomesChart = (r: Recorder): string => {
  const rows = Array.from(r.outcomes.entries()).toSorted((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  if (rows.length === 0) return `<p class="none">no outcome recorded</p>`
  const total = rows.reduce((n, [, c]) => n + c, 0)
  const rowH = 22
  const height = rows.length * rowH + 10
  const labelW = 220
  const max = Math.max(...rows.map(([, c]) => c))
  let body = `<g class="series" data-series="outcomes" data-points="${rows.length}" font-size="12">`
  rows.forEach(([label, count], i) => {
    const y = 5 + i * rowH
    const w = ((W - labelW - 90) * count) / max
    const ok = /^2\d\d /.test(label)
    body += `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${escapeHtml(label)}</text>`
    body += `<rect x="${labelW}" y="${y + 3}" width="${Math.max(1, w).toFixed(1)}" height="${rowH - 6}" fill="${
      ok ? "#86efac" : "#fca5a5"
    }"/>`
    body += `<text x="${labelW + w + 6}" y="${y + 15}">${count} (${((100 * count) / total).toFixed(1)}%)</text>`
  })
  body += `</g>`
  return svg("outcomes", height, body, "outcomes by kind")
}

const timelineChart = (r: Recorder): string => {
  const seconds = Math.max(0.001, r.endedAt / 1000)
  const buckets = 60
  const width = seconds / buckets
  const retries = Array.from({ length: buckets }, () => 0)
  for (const [t] of r.retries) retries[Math.min(buckets - 1, Math.floor(t / 1000 / width))]!++
  const done = Array.from({ length: buckets }, () => 0)
  for (const t of r.completions) done[Math.min(buckets - 1, Math.floor(t / 1000 / width))]!++
  const opened = openings(r)
  const { axes, f } = frame(
    240,
    seconds,
    Math.max(1, ...retries, ...done) * 1.1,
    `seconds (bars: per ${fmt(width * 1000)} ms)`,
    "count"
  )
  let body = axes
  const bw = (f.x(seconds) - f.x(0)) / buckets
  const bars = (name: string, values: ReadonlyArray<number>, color: string, offset: number) => {
    let g = `<g class="series" data-series="${name}" data-points="${values.length}">`
    values.forEach((v, i) => {
      if (v === 0) return
      g += `<rect x="${(f.x(i * width) + offset * bw / 2).toFixed(1)}" y="${f.y(v).toFixed(1)}" width="${
        Math.max(0.5, bw / 2 - 0.5).toFixed(1)
      }" height="${(f.y(0) - f.y(v)).toFixed(1)}" fill="${color}"><title>${v}</title></rect>`
    })
    return `${g}</g>`
  }
  body += bars("completed", done, "#cbd5e1", 0)
  body += bars("retries", retries, "#f59e0b", 1)
  body += `<g class="series" data-series="breaker-openings" data-points="${opened.length}">`
  for (const [i, o] of opened.entries()) {
    const x = f.x(o.at / 1000)
    const labelY = PAD.top + 10 + (i % 4) * 12
    body += `<line x1="${x}" x2="${x}" y1="${PAD.top}" y2="${f.y(0)}" stroke="#dc2626" stroke-width="2">` +
      `<title>circuit of ${escapeHtml(o.host)} opened</title></line>` +
      `<text x="${x + 3}" y="${labelY}" font-size="10" fill="#dc2626">open ${escapeHtml(o.host)}</text>`
  }
  body += `</g>`
  return svg("timeline", 240, body, "retries and breaker openings over time") +
    legend([["completed", "#94a3b8"], ["retries", "#f59e0b"], ["breaker opened", "#dc2626"]]) +
    `<p class="stats">${r.retries.length} retries · ${opened.length} breaker openings${
      r.info.openDurationMs === undefined ? " (no circuit breaker in this run)" : ""
    }</p>`
}

const adaptiveChart = (r: Recorder): string => {
  if (r.limits.size === 0) return `<p class="none">no adaptive limiter was live during this run</p>`
  const seconds = Math.max(0.001, r.endedAt / 1000)
  const all = Array.from(r.limits.entries())
  const { axes, f } = frame(
    220,
    seconds,
    Math.max(1, ...all.flatMap(([, s]) => s.map(([, v]) => v))) * 1.1,
    "seconds",
    "limit"
  )
  let body = axes
  all.forEach(([name, points], i) => {
    body += `<path class="series" data-series="${escapeHtml(name)}" data-points="${points.length}" d="${
      stepPath(f, points.map(([t, v]) => [t / 1000, v] as const), seconds)
    }" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"/>`
  })
  return svg("adaptive", 220, body, "adaptive limit over time") +
    legend(all.map(([name], i) => [name, COLORS[i % COLORS.length]!] as const))
}

/**
 * The whole report as one HTML document.
 *
 * @internal
 */
export const renderHtml = (r: Recorder): string => {
  const total = Array.from(r.outcomes.values()).reduce((n, c) => n + c, 0)
  const ok = Array.from(r.outcomes.entries()).filter(([l]) => /^2\d\d /.test(l)).reduce((n, [, c]) => n + c, 0)
  const attempts = r.inFlight.filter(([, , d]) => d === 1).length
  const seconds = r.endedAt / 1000
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(r.info.command)}: run report</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:${W + 20}px;color:#111}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:26px 0 6px}
.summary{display:flex;flex-wrap:wrap;gap:6px 18px;margin:10px 0}.summary b{font-size:16px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;color:#333}
.legend i{display:inline-block;width:18px;margin-right:5px;vertical-align:middle}
.stats,.none{font-size:12px;color:#444;margin:4px 0}svg{display:block}
</style></head><body>
<h1>${escapeHtml(r.info.command)}</h1>
<div class="summary">
<span><b>${total}</b> URLs done</span><span><b>${ok}</b> succeeded</span><span><b>${total - ok}</b> failed</span>
<span><b>${attempts}</b> attempts (${r.retries.length} retries)</span><span><b>${
    openings(r).length
  }</b> breaker openings</span>
<span><b>${seconds.toFixed(2)}</b> s</span><span><b>${r.hosts.length}</b> hosts</span>
</div>
<h2>Attempts in flight per host, against the cap</h2>${inFlightChart(r)}
<h2>Latency per URL (all attempts)</h2>${latencyChart(r)}
<h2>Outcomes by kind</h2>${outcomesChart(r)}
<h2>Timeline: completions, retries and breaker openings</h2>${timelineChart(r)}
<h2>Adaptive limit over time</h2>${adaptiveChart(r)}
</body></html>
`
}
