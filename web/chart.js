// A small canvas line chart: several series over a shared time axis, each with its own
// y range, drawn crisp at the device pixel ratio.

export class LineChart {
  constructor(canvas, series) {
    this.canvas = canvas;
    this.series = series; // [{name, color, unit}]
    this.data = series.map(() => []); // per series: [[t, v], ...]
    this.maxPoints = 2000;
  }

  set(index, points) {
    this.data[index] = points.filter(([, v]) => v !== null && v !== undefined && Number.isFinite(v));
  }

  push(index, t, v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return;
    const d = this.data[index];
    if (d.length && d[d.length - 1][0] >= t) return;
    d.push([t, v]);
    if (d.length > this.maxPoints) d.splice(0, d.length - this.maxPoints);
  }

  pointCount() {
    return this.data.reduce((n, d) => n + d.length, 0);
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const pad = { l: 8, r: 8, t: 18, b: 18 };
    const all = this.data.flat();
    g.font = '11px system-ui, sans-serif';
    if (!all.length) {
      g.fillStyle = '#8b949e';
      g.fillText('no data yet', pad.l, h / 2);
      return;
    }
    const t0 = Math.min(...all.map((p) => p[0]));
    const t1 = Math.max(...all.map((p) => p[0]));
    const span = Math.max(t1 - t0, 1);
    this.series.forEach((s, i) => {
      const d = this.data[i];
      if (!d.length) return;
      let lo = Math.min(...d.map((p) => p[1]));
      let hi = Math.max(...d.map((p) => p[1]));
      if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
      const x = (t) => pad.l + ((t - t0) / span) * (w - pad.l - pad.r);
      const y = (v) => h - pad.b - ((v - lo) / (hi - lo)) * (h - pad.t - pad.b);
      g.strokeStyle = s.color;
      g.lineWidth = 1.5;
      g.beginPath();
      d.forEach(([t, v], k) => (k ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))));
      g.stroke();
      const last = d[d.length - 1][1];
      g.fillStyle = s.color;
      g.fillText(`${s.name} ${last.toFixed(2)}${s.unit || ''}  [${lo.toFixed(1)}–${hi.toFixed(1)}]`, pad.l + i * 180, 12);
    });
    g.fillStyle = '#8b949e';
    g.fillText(fmtTime(t0), pad.l, h - 4);
    const right = fmtTime(t1);
    g.fillText(right, w - pad.r - g.measureText(right).width, h - 4);
  }
}

// Times from the API are Unix seconds (UTC); they are shown in the city's time zone.
let cityTimeZone = 'Asia/Shanghai';
let clockFormat = null;

/** Show times in `tz` (an IANA name, e.g. from the API); ignored if the browser lacks it. */
export function setCityTimeZone(tz) {
  try {
    clockFormat = new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    cityTimeZone = tz;
  } catch (e) {
    console.warn(`unknown time zone ${tz}, keeping ${cityTimeZone}`);
  }
}

/** `HH:MM:SS` of Unix seconds `s` on the city's clock. */
export function fmtTime(s) {
  if (!clockFormat) setCityTimeZone(cityTimeZone);
  if (!Number.isFinite(s)) return '--:--:--';
  return clockFormat.format(new Date(Math.floor(s) * 1000));
}
