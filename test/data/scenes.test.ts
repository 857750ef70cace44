import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashSeed, mulberry32 } from '../../src/data/prng';
import { NUM_CLASSES, loadMnist, splitIndices } from '../../src/data/mnist';
import { DEFAULT_SCENE_SIZE, Scene, generateScene, generateScenes, inBox } from '../../src/data/scenes';

test('mulberry32 is a pure function of its seed', () => {
  const a = mulberry32(42), b = mulberry32(42), c = mulberry32(43);
  const xs = Array.from({ length: 5 }, a), ys = Array.from({ length: 5 }, b), zs = Array.from({ length: 5 }, c);
  assert.deepEqual(xs, ys);
  assert.notDeepEqual(xs, zs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  // Pinned value: a change to the generator would silently change every scene.
  assert.equal(mulberry32(1)().toFixed(10), '0.6270739406');
  assert.notEqual(hashSeed(1, 2), hashSeed(2, 1));
});

test('mnist digits: 10 classes, train and test splits are disjoint and cover every digit', () => {
  const set = loadMnist();
  assert.equal(set.labels.length, set.pixels.length / 784);
  assert.ok(set.labels.length >= 9000);
  for (let c = 0; c < NUM_CLASSES; c++) {
    const train = new Set(splitIndices(set, 'train', c));
    const testIds = splitIndices(set, 'test', c);
    assert.ok(testIds.length > 150, `class ${c} has ${testIds.length} test digits`);
    assert.ok(testIds.every((i) => !train.has(i) && set.labels[i] === c));
    assert.equal(train.size + testIds.length, set.byClass[c].length);
  }
});

test('the same seed and index give identical scenes; another seed gives another scene', () => {
  const a = generateScene({ split: 'train', seed: 5, index: 17 });
  const b = generateScene({ split: 'train', seed: 5, index: 17 });
  assert.deepEqual(a, b);
  const c = generateScene({ split: 'train', seed: 6, index: 17 });
  assert.notDeepEqual(a.pixels, c.pixels);
  const batch = generateScenes({ split: 'train', seed: 5 }, 15, 3);
  assert.deepEqual(batch[2], a);
});

test('scene content is pinned: a change to the generator must be deliberate', () => {
  const s = generateScene({ split: 'test', seed: 1, index: 0 });
  let sum = 0;
  for (const v of s.pixels) sum += v;
  // If this fails after an intended change, update the numbers and retrain (npm run train).
  assert.deepEqual({ labels: s.labels, clutter: s.clutter, boxes: s.digits.map((d) => d.box) }, PINNED.truth);
  assert.equal(sum.toFixed(2), PINNED.sum);
});

function checkTruth(s: Scene): void {
  assert.equal(s.pixels.length, s.width * s.height * 3);
  assert.ok(s.pixels.every((v) => v >= 0 && v <= 1));
  assert.equal(new Set(s.labels).size, s.labels.length, 'digit classes differ');
  assert.deepEqual(s.labels, s.digits.map((d) => d.label));
  const set = loadMnist();
  for (const d of s.digits) {
    assert.equal(set.labels[d.sourceIndex], d.label);
    assert.ok(splitIndices(set, s.split, d.label).includes(d.sourceIndex), 'digit comes from its split');
    const { x, y, width, height } = d.box;
    assert.ok(x >= 0 && y >= 0 && x + width <= s.width && y + height <= s.height, 'box inside the scene');
    assert.ok(width >= 4 && height >= 8, `digit is visible (${width}×${height})`);
    // The box is tight around the mask: every mask pixel inside, every edge touched.
    let area = 0;
    const edges = { left: false, right: false, top: false, bottom: false };
    for (let py = 0; py < s.height; py++) {
      for (let px = 0; px < s.width; px++) {
        if (!d.mask[py * s.width + px]) continue;
        area++;
        assert.ok(inBox(d.box, px, py));
        edges.left ||= px === x; edges.right ||= px === x + width - 1; edges.top ||= py === y; edges.bottom ||= py === y + height - 1;
      }
    }
    assert.ok(area >= 20);
    assert.deepEqual(edges, { left: true, right: true, top: true, bottom: true });
  }
  if (s.digits.length === 2) {
    const [a, b] = s.digits.map((d) => d.box);
    const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
    assert.ok(apart, 'two digits do not overlap');
  }
}

test('ground truth: labels, tight boxes and masks, disjoint two-digit boxes, source split respected', () => {
  const scenes = [
    ...generateScenes({ split: 'train', seed: 3 }, 0, 60),
    ...generateScenes({ split: 'test', seed: 3, count: 2, clutter: 'heavy' }, 0, 30),
  ];
  scenes.forEach(checkTruth);
  const counts = new Set(scenes.slice(0, 60).map((s) => s.digits.length));
  assert.deepEqual([...counts].sort(), [1, 2]);
  assert.ok(scenes.every((s) => s.width === DEFAULT_SCENE_SIZE));
});

test('forced labels and clutter are honoured; test scenes never use train digits', () => {
  const s = generateScene({ split: 'test', seed: 9, index: 4, labels: [4, 9], clutter: 'light' });
  assert.deepEqual(s.labels, [4, 9]);
  assert.equal(s.clutter, 'light');
  checkTruth(s);
  const trainSources = new Set<number>();
  for (const t of generateScenes({ split: 'train', seed: 1 }, 0, 200)) t.digits.forEach((d) => trainSources.add(d.sourceIndex));
  for (const t of generateScenes({ split: 'test', seed: 1 }, 0, 200)) t.digits.forEach((d) => assert.ok(!trainSources.has(d.sourceIndex)));
});

const PINNED = {
  truth: { labels: [3], clutter: 'light', boxes: [{ x: 11, y: 3, width: 19, height: 25 }] },
  sum: '2809.76',
};
