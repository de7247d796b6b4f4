// Charts, drawn by ECharts (only the parts the dashboard uses are bundled). Each chart
// element carries data-points, the number of points of each series now drawn (read back from
// the option ECharts holds), and data-last, the x of the first series' last point, so tests
// and people can check what is plotted.
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, LegendComponent, PolarComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([LineChart, BarChart, GridComponent, PolarComponent, TooltipComponent, LegendComponent, DataZoomComponent, CanvasRenderer]);

const charts = new Set();
window.addEventListener('resize', () => {
  for (const c of charts) c.resize();
});

// Tooltips render on the canvas (richText): HTML tooltips would need inline styles, which
// the Content-Security-Policy forbids.
const tooltip = { trigger: 'axis', renderMode: 'richText' };

export function createChart(el) {
  const chart = echarts.init(el, null, { renderer: 'canvas' });
  charts.add(chart);
  return {
    chart,
    set(option, notMerge = false) {
      chart.setOption(option, { notMerge, lazyUpdate: false });
      const series = chart.getOption().series || [];
      el.dataset.points = JSON.stringify(Object.fromEntries(series.map((s) => [s.name, (s.data || []).length])));
      const first = series[0]?.data || [];
      const last = first[first.length - 1];
      el.dataset.last = Array.isArray(last) ? String(last[0]) : '';
    },
    dispose() {
      charts.delete(chart);
      chart.dispose();
    },
  };
}

// Voltage, current and power against time, each on its own axis. range: optional [from, to]
// (ms) to show the whole span asked for. On a narrow chart the power axis keeps its name but
// not its labels, so three axes fit a phone.
export function vawOption(names, rows, { range, narrow = false } = {}) {
  const axis = (name, position, offset, labels = true) => ({
    type: 'value', name, position, offset, scale: true,
    splitLine: { show: position === 'left' }, axisLabel: { show: labels, hideOverlap: true },
  });
  const symbols = rows.length < 40; // a few buckets read better as dots
  const line = (name, yAxisIndex, key) => ({ name, type: 'line', yAxisIndex, showSymbol: symbols, data: rows.map((r) => [r.t, r[key]]) });
  return {
    animation: false,
    tooltip,
    legend: { top: 0 },
    grid: { left: 52, right: narrow ? 64 : 120, top: 44, bottom: 32 },
    xAxis: { type: 'time', min: range?.[0], max: range?.[1], axisLabel: { hideOverlap: true } },
    yAxis: [axis('V', 'left', 0), axis('A', 'right', 0), axis('W', 'right', narrow ? 0 : 60, !narrow)],
    dataZoom: [{ type: 'inside' }],
    series: [line(names.voltage, 0, 'voltage'), line(names.current, 1, 'current'), line(names.power, 2, 'power')],
  };
}

// Whether a chart element is phone-sized.
export const isNarrow = (el) => el.clientWidth > 0 && el.clientWidth < 520;

export function barOption(name, labels, values) {
  return {
    animation: false,
    tooltip,
    grid: { left: 56, right: 16, top: 24, bottom: 40 },
    xAxis: { type: 'category', data: labels },
    yAxis: { type: 'value', name },
    series: [{ name, type: 'bar', data: values }],
  };
}

// Instantaneous volts and amperes of a capture against milliseconds. channels: [{ name,
// unit: 'V'|'A', data, color }], volts on the left axis, amperes on the right.
export function waveformOption(channels, rateHz) {
  const ms = (k) => +((k * 1000) / rateHz).toFixed(3);
  return {
    animation: false,
    tooltip,
    legend: { top: 0 },
    grid: { left: 56, right: 56, top: 40, bottom: 40 },
    xAxis: { type: 'value', name: 'ms', axisLabel: { hideOverlap: true } },
    yAxis: [{ type: 'value', name: 'V' }, { type: 'value', name: 'A', position: 'right' }],
    dataZoom: [{ type: 'inside' }],
    series: channels.map((c) => ({
      name: c.name, type: 'line', yAxisIndex: c.unit === 'A' ? 1 : 0, showSymbol: false, color: c.color,
      lineStyle: c.unit === 'A' && c.color ? { type: 'dashed' } : undefined,
      data: c.data.map((x, k) => [ms(k), x]),
    })),
  };
}

export function harmonicsOption(names, hv, hi) {
  const orders = [];
  for (let h = 2; h < Math.min(hv.length, hi.length); h++) orders.push(String(h));
  return {
    animation: false,
    tooltip,
    legend: { top: 0 },
    grid: { left: 48, right: 16, top: 40, bottom: 40 },
    xAxis: { type: 'category', data: orders, name: 'h', axisLabel: { hideOverlap: true } },
    yAxis: { type: 'value', name: '%' },
    series: [
      { name: names.v, type: 'bar', data: orders.map((h) => hv[+h]) },
      { name: names.i, type: 'bar', data: orders.map((h) => hi[+h]) },
    ],
  };
}

// Phase colours as Chinese switchgear marks them: a yellow, b green, c red.
export const PHASE_COLORS = { a: '#c99700', b: '#2e9e44', c: '#d32f2f' };

// The phasor diagram on a polar plot: 0° to the right, angles counter-clockwise, so a
// lagging current sits clockwise of its voltage. Each phasor is a series of two points, the
// origin and its tip (an arrow); voltages are solid, currents dashed. list: from phasors() in
// threephase.js; names(p) gives a phasor's legend name; units: { v: 'V', i: 'A' }.
export function phasorOption(list, names, units) {
  const toAxis = (deg) => (deg + 360) % 360;
  const series = list.map((p) => ({
    name: names(p),
    type: 'line',
    coordinateSystem: 'polar',
    color: PHASE_COLORS[p.phase],
    lineStyle: { width: p.kind === 'v' ? 3 : 2, type: p.kind === 'v' ? 'solid' : 'dashed' },
    data: [
      { value: [0, toAxis(p.angle_deg)], symbol: 'none', magnitude: p.magnitude, angle: p.angle_deg, unit: units[p.kind] },
      // An arrow points up (90°) unrotated; ECharts turns symbols counter-clockwise.
      { value: [p.length, toAxis(p.angle_deg)], symbol: 'arrow', symbolSize: 11, symbolRotate: p.angle_deg - 90,
        magnitude: p.magnitude, angle: p.angle_deg, unit: units[p.kind] },
    ],
  }));
  return {
    animation: false,
    tooltip: {
      trigger: 'item', renderMode: 'richText',
      formatter: (q) => `${q.seriesName}: ${q.data.magnitude.toFixed(q.data.unit === 'V' ? 1 : 2)} ${q.data.unit} ∠ ${q.data.angle.toFixed(1)}°`,
    },
    legend: { top: 0, itemWidth: 18 },
    polar: { center: ['50%', '56%'], radius: '72%' },
    angleAxis: {
      type: 'value', min: 0, max: 360, interval: 30, startAngle: 0, clockwise: false,
      axisLabel: { formatter: (v) => `${v > 180 ? v - 360 : v}°` },
      splitLine: { show: true, lineStyle: { type: 'dotted' } },
    },
    radiusAxis: { min: 0, max: 1.05, axisLabel: { show: false }, axisTick: { show: false }, splitNumber: 4 },
    series,
  };
}
