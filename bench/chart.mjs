// Draws bench/results/chart.svg from latest.json with Vega-Lite: throughput and p99 run latency
// against runs in flight, governed (deliveryRun) and bare Temporal, per DAG shape.
// Usage: node bench/chart.mjs <latest.json> <chart.svg>
import { readFileSync, writeFileSync } from 'node:fs';
import * as vega from 'vega';
import { compile } from 'vega-lite';

const [input, output] = process.argv.slice(2);
const report = JSON.parse(readFileSync(input, 'utf8'));
const values = report.engine.rows.flatMap((row) =>
  [
    ['governed', 'governed'],
    ['bare', 'bare'],
  ].map(([kind, label]) => ({
    series: `${label} · ${row.dag}`,
    inFlight: row.inFlight,
    nodesPerSec: row[kind].nodesPerSec,
    p99: row[kind].latencyMs.p99,
  })),
);
const panel = (field, title) => ({
  width: 320,
  height: 220,
  title,
  mark: { type: 'line', point: true },
  encoding: {
    x: { field: 'inFlight', type: 'quantitative', title: 'runs in flight' },
    y: { field, type: 'quantitative', title },
    color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 320 } },
    strokeDash: { field: 'series', type: 'nominal', title: null },
  },
});
const spec = compile({
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  data: { values },
  hconcat: [panel('nodesPerSec', 'node throughput (nodes/s)'), panel('p99', 'run latency p99 (ms)')],
  config: { background: 'white' },
}).spec;
const svg = await new vega.View(vega.parse(spec), { renderer: 'none' }).toSVG();
writeFileSync(output, svg);
process.stdout.write(`chart: ${output}\n`);
