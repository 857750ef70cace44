import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { notebookErrors } from '../../scripts/jupyter';
import { FIGURE_COUNT, PLOTLY_MIME, joinText, outputsOf, runDisplayNotebook } from '../render/display-notebook';

// Real Jupyter (nbconvert) + the real tslab kernel; needs `npx tsc -p tsconfig.json` first (scripts/test.sh does it).
test('the display notebook holds multi-MIME bundles, plotly.js embedded exactly once', () => {
  const { nb } = runDisplayNotebook();
  assert.deepEqual(notebookErrors(nb), []);
  const outs = outputsOf(nb);
  const figures = outs.filter((o) => o.output.output_type === 'display_data' && o.output.data?.[PLOTLY_MIME] !== undefined);
  assert.equal(figures.length, FIGURE_COUNT);
  for (const { output } of figures) {
    const data = output.data!;
    assert.deepEqual(Object.keys(data).sort(), [PLOTLY_MIME, 'text/html', 'text/plain'], 'the PNG is stored once, inside text/html');
    const plotly = data[PLOTLY_MIME] as { data: unknown[]; layout: object };
    assert.ok(Array.isArray(plotly.data) && plotly.data.length > 0 && typeof plotly.layout === 'object');
    const html = joinText(data['text/html']);
    const png = /<img class="tslab-cam-fallback"[^>]* width="(\d+)" height="(\d+)" src="data:image\/png;base64,([^"]+)"/.exec(html);
    assert.ok(png && Number(png[1]) > 100 && Number(png[2]) > 100);
    assert.ok(Buffer.from(png[3], 'base64').subarray(1, 4).toString() === 'PNG');
    assert.match(html, /window\.Plotly\.newPlot/);
    assert.ok(!html.includes('alert(1)</script>'), 'class names escaped');
  }
  const embeds = outs.filter((o) => joinText(o.output.data?.['text/html']).includes('data-tslab-cam-plotly'));
  assert.equal(embeds.length, 1, 'plotly.js once per kernel session');
  assert.ok(joinText(embeds[0].output.data?.['text/html']).includes('window.Plotly = Plotly'));
  assert.ok(outs.indexOf(embeds[0]) < outs.indexOf(figures[0]), 'embed before the first figure');
  assert.equal(embeds[0].cell, figures[0].cell);
  // A figure or result as a cell's last expression prints one short line.
  const lines = outs.filter((o) => o.output.output_type === 'stream' && o.output.name === 'stdout').map((o) => joinText(o.output.text));
  assert.ok(lines.some((l) => /^CAM · class 3 .*: map 7×7 → 224×224, S_c=/s.test(l) && l.trim().split('\n').length === 1));
  // The progress bar was updated in place: one output, final state.
  const progress = outs.filter((o) => joinText(o.output.data?.['text/html']).includes('tslab-cam-progress'));
  assert.equal(progress.length, 1);
  assert.match(joinText(progress[0].output.data?.['text/plain']), /demo \[#+\] 5\/5 100% .*done finished/);
  const table = outs.filter((o) => joinText(o.output.data?.['text/html']).includes('tslab-cam-checks'));
  assert.equal(table.length, 1);
  assert.ok(!joinText(table[0].output.data?.['text/html']).includes('<script>'));
});
