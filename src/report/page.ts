/**
 * One self-contained HTML page: the Vega, Vega-Lite and vega-embed browser builds inlined from their npm
 * packages, the chart specifications as JSON in a data block, and a few lines that draw them. The page fetches
 * nothing when opened.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { GraftrecError } from '../errors.js';
import { VegaLiteSpec } from './charts.js';

export interface ReportTable {
  header: string[];
  rows: string[][];
  /** Columns to align right (numbers). */
  numeric?: boolean[];
}

export interface ReportChart {
  /** Drawn as the chart's own title, so it stays on an exported SVG or PNG. */
  title: string;
  spec: VegaLiteSpec;
}

export interface ReportSection {
  title: string;
  /** Plain-text paragraphs (escaped on output). */
  paragraphs: string[];
  tables: ReportTable[];
  charts: ReportChart[];
}

export interface ReportContent {
  title: string;
  subtitle: string;
  sections: ReportSection[];
}

/** The browser libraries, in the order they load (vega-lite needs vega; vega-embed needs both). */
const LIBRARIES = ['vega', 'vega-lite', 'vega-embed'];

/** The minified browser build a package publishes (its package.json `unpkg` / `jsdelivr` file). */
export function browserBuild(pkg: string): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const manifestPath = join(dir, pkg, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { unpkg?: string; jsdelivr?: string };
    const file = manifest.unpkg ?? manifest.jsdelivr;
    if (!file || !existsSync(join(dir, pkg, file))) throw new GraftrecError(`${manifestPath}: names no browser build to inline in the report`);
    return readFileSync(join(dir, pkg, file), 'utf8');
  }
  throw new GraftrecError(`the npm package ${pkg} is not installed; the report inlines its browser build (npm install)`);
}

/** Text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that can sit inside a <script> element: every `<`, `>` and `&` (so no `</script>` or `<!--` in the data
 * can end or change the element) and the line separators JavaScript once rejected are written as \u escapes,
 * which JSON.parse reads back as the same characters.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** JavaScript source for a <script> element: a `</script` or `<!--` inside it (in a string) must not end it early. */
export function scriptSource(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

function tableHtml(t: ReportTable): string {
  const cell = (tag: string, text: string, c: number) => `<${tag}${t.numeric?.[c] ? ' class="num"' : ''}>${escapeHtml(text)}</${tag}>`;
  return `<table><thead><tr>${t.header.map((h, c) => cell('th', h, c)).join('')}</tr></thead>\n<tbody>${
    t.rows.map((row) => `<tr>${row.map((v, c) => cell('td', v, c)).join('')}</tr>`).join('\n')}</tbody></table>`;
}

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 0 auto; padding: 24px 32px; max-width: 1320px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.subtitle { color: #666; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 10px; text-align: left; } th { background: #f6f6f6; }
.num { text-align: right; white-space: nowrap; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 32px; }
figure { margin: 0; }
.chart-error { color: #b00020; }
`;

/**
 * Draws every chart; the Vega views go to window.reportViews, and data-charts-drawn on <body> says how many were
 * drawn once all are done (a chart that fails shows its error in its place).
 */
const DRAW = `
(async () => {
  const charts = JSON.parse(document.getElementById('report-charts').textContent);
  window.reportViews = [];
  for (const chart of charts) {
    const element = document.getElementById(chart.id);
    try {
      const result = await vegaEmbed(element, chart.spec, { renderer: 'svg', actions: { export: true, source: false, compiled: false, editor: false } });
      window.reportViews.push(result.view);
    } catch (err) {
      console.error('chart ' + chart.id + ': ' + err.message);
      element.className = 'chart-error';
      element.textContent = 'This chart could not be drawn: ' + err.message;
    }
  }
  document.body.dataset.chartsDrawn = String(window.reportViews.length);
})();
`;

export function reportPage(content: ReportContent): string {
  const charts: { id: string; spec: VegaLiteSpec }[] = [];
  const sections = content.sections.map((section) => {
    const parts = [`<section>\n<h2>${escapeHtml(section.title)}</h2>`];
    for (const p of section.paragraphs) parts.push(`<p>${escapeHtml(p)}</p>`);
    for (const t of section.tables) parts.push(tableHtml(t));
    if (section.charts.length > 0) {
      parts.push('<div class="charts">');
      for (const chart of section.charts) {
        const id = `chart-${charts.length + 1}`;
        charts.push({ id, spec: { ...chart.spec, title: { text: chart.title, anchor: 'start', fontSize: 13, offset: 10 } } });
        parts.push(`<figure><div id="${id}" class="chart"></div></figure>`);
      }
      parts.push('</div>');
    }
    parts.push('</section>');
    return parts.join('\n');
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(content.title)}</title>
<style>${STYLE}</style>
${LIBRARIES.map((pkg) => `<script data-library="${pkg}">${scriptSource(browserBuild(pkg))}</script>`).join('\n')}
</head>
<body data-chart-count="${charts.length}">
<h1>${escapeHtml(content.title)}</h1>
<p class="subtitle">${escapeHtml(content.subtitle)}</p>
${sections.join('\n')}
<script type="application/json" id="report-charts">${jsonForScript(charts)}</script>
<script>${DRAW}</script>
</body>
</html>
`;
}
