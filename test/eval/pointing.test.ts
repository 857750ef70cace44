import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argmax2d, emptyTally, pointsInto, rate, recordPointing } from '../../src/eval/pointing';
import { generateScene } from '../../src/data/scenes';

test('argmax2d finds the maximum; a constant map is flat', () => {
  const map = new Float32Array(12);
  map[7] = 3;
  assert.deepEqual(argmax2d(map, 4), { x: 3, y: 1, value: 3, flat: false });
  assert.equal(argmax2d(new Float32Array(12), 4).flat, true);
});

test('pointing: inside the box is a hit, outside a miss, the tolerance widens the box, flat maps miss', () => {
  const box = { x: 2, y: 2, width: 3, height: 3 };
  const at = (x: number, y: number): Float32Array => {
    const m = new Float32Array(100);
    m[y * 10 + x] = 1;
    return m;
  };
  assert.equal(pointsInto(at(4, 4), 10, box), true);
  assert.equal(pointsInto(at(5, 4), 10, box), false);
  assert.equal(pointsInto(at(6, 4), 10, box, 2), true);
  assert.equal(pointsInto(new Float32Array(100), 10, { x: 0, y: 0, width: 10, height: 10 }), false);
});

test('a map equal to a digit\'s mask points into that digit, not the other one', () => {
  const s = generateScene({ split: 'test', seed: 4, index: 0, labels: [2, 7] });
  const t = emptyTally();
  for (const which of [0, 1]) recordPointing(t, s, which, Float32Array.from(s.digits[which].mask));
  assert.equal(rate(t), 1);
  assert.equal(t.perClass[2].trials, 1);
  const wrong = emptyTally();
  recordPointing(wrong, s, 0, Float32Array.from(s.digits[1].mask));
  assert.equal(rate(wrong), 0);
});
