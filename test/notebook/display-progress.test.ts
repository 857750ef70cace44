import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createProgress, progressBarSink, progressHtml, progressText } from '../../src/notebook/progress';
import { runChunks, runChunksAsync, setDefaultProgressSink } from '../../src/run';
import { CancelledError } from '../../src/errors';
import { useDisplayWriter, type DisplayContent } from '../../src/notebook/kernel';

test('notebook progress: one display id, first display_data then update_display_data', () => {
  const sent: { content: DisplayContent; update: boolean }[] = [];
  useDisplayWriter((content, update) => sent.push({ content, update }));
  try {
    const p = createProgress({ total: 4, label: '<b>train</b>', minIntervalMs: 0 });
    for (let i = 0; i < 4; i++) p.tick(1, `loss ${i}`);
    p.done();
    assert.equal(sent.length, 6);
    assert.equal(sent[0].update, false);
    assert.ok(sent.slice(1).every((s) => s.update));
    const ids = new Set(sent.map((s) => s.content.transient?.display_id));
    assert.equal(ids.size, 1);
    const last = sent[sent.length - 1].content.data;
    assert.match(String(last['text/plain']), /4\/4 100%.*done/);
    assert.ok(!String(last['text/html']).includes('<b>train'), 'label escaped');
    assert.ok(String(last['text/html']).includes('&lt;b&gt;train'));
  } finally {
    useDisplayWriter(undefined);
  }
});

test('terminal progress: carriage-return redraws on a TTY, deciles otherwise, throttled', () => {
  let tty = '';
  const p = createProgress({ total: 10, label: 'eval', mode: 'terminal', minIntervalMs: 0, stream: { isTTY: true, write: (s: string) => (tty += s) } });
  for (let i = 0; i < 10; i++) p.tick();
  p.done('ok');
  assert.equal(tty.split('\r').length - 1, 12);
  assert.ok(tty.endsWith('\n'));
  assert.match(tty, /eval \[#+\] 10\/10 100% .*done ok/);

  let log = '';
  const q = createProgress({ total: 1000, mode: 'terminal', minIntervalMs: 0, stream: { write: (s: string) => (log += s) } });
  for (let i = 0; i < 1000; i++) q.tick();
  q.done();
  const lines = log.trim().split('\n');
  assert.ok(lines.length >= 11 && lines.length <= 13, `got ${lines.length} lines`);

  let slow = '';
  const r = createProgress({ total: 1000, mode: 'terminal', minIntervalMs: 10_000, stream: { isTTY: true, write: (s: string) => (slow += s) } });
  for (let i = 0; i < 1000; i++) r.tick();
  r.done();
  assert.equal(slow.split('\r').length - 1, 2, 'first draw and done only');
});

test('progress text and html from a state', () => {
  const s = { label: 'x', value: 3, total: 6, elapsedMs: 3000, note: '', finished: false };
  assert.equal(progressText(s, 10), 'x [#####-----] 3/6 50% 3.0s eta 3.0s');
  assert.match(progressHtml(s), /width:50\.0%/);
  assert.equal(progressText({ ...s, total: 0, value: 0 }, 4), 'x [####] 0/0 100% 3.0s');
});

test('progressBarSink: one bar per top-level run with count, rate and ETA; nested runs show inside it; ends as cancelled', async () => {
  let tty = '';
  const stream = { isTTY: true, write: (s: string) => (tty += s) };
  const previous = setDefaultProgressSink(progressBarSink({ mode: 'terminal', stream, minIntervalMs: 0, minShowMs: 0 }));
  try {
    const ac = new AbortController();
    await assert.rejects(runChunksAsync({ total: 4, chunk: 1, label: 'evaluate', unit: 'scenes', signal: ac.signal, detail: (d, t) => `scene ${Math.min(d + 1, t)}/${t}` }, (s) => {
      runChunks({ total: 6, chunk: 2, label: 'Score-CAM', unit: 'channels' }, () => 0);
      if (s === 1) ac.abort();
    }), (e: unknown) => e instanceof CancelledError);
  } finally {
    setDefaultProgressSink(previous);
  }
  const frames = tty.split('\r').filter((f) => f !== '');
  assert.ok(frames.every((f) => f.startsWith('evaluate [')), 'only the top-level run draws a bar');
  assert.ok(frames.some((f) => /Score-CAM 4\/6 channels/.test(f)), 'the nested run shows inside it');
  assert.match(frames[frames.length - 1], /^evaluate \[#{15}-{15}\] 2\/4 scenes 50% \S+ [\d.]+ scenes\/s cancelled scene 3\/4\s*\n$/);
});

test('progressBarSink: a run that ends before minShowMs draws nothing; a longer one draws from then on', async () => {
  let out = '';
  const sink = progressBarSink({ mode: 'terminal', stream: { isTTY: true, write: (s: string) => (out += s) }, minIntervalMs: 0, minShowMs: 60 });
  runChunks({ total: 3, chunk: 1, label: 'quick', onProgress: sink }, () => 0);
  assert.equal(out, '');
  await runChunksAsync({ total: 4, chunk: 1, label: 'slow', onProgress: sink }, () => { const t = Date.now(); while (Date.now() - t < 30); });
  assert.match(out, /slow \[#+\] 4\/4 items 100% .* done/);
  assert.doesNotMatch(out, /slow \[-+\] 0\/4/, 'the first frames, before 60 ms, are not drawn');
});

test('progress text: units give a rate; cancelled and failed endings are named', () => {
  const s = { label: 'x', value: 3, total: 6, elapsedMs: 3000, note: '', finished: false, unit: 'steps' };
  assert.equal(progressText(s, 10), 'x [#####-----] 3/6 steps 50% 3.0s 1.00 steps/s eta 3.0s');
  assert.equal(progressText({ ...s, finished: true, outcome: 'cancelled' }, 10), 'x [#####-----] 3/6 steps 50% 3.0s 1.00 steps/s cancelled');
  assert.match(progressHtml({ ...s, finished: true, outcome: 'failed' }), /#c62828.*failed/);
});
