import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { inTslab, relativeTo } from '../src/host';
import { asInTslab } from './helpers/host';

test('relative paths: "the notebook\'s folder" only inside a notebook, else the current directory', () => {
  assert.equal(inTslab(), false);
  assert.equal(relativeTo(), `a relative path is relative to the current directory, ${process.cwd()}`);
  assert.equal(asInTslab(() => relativeTo()), `a relative path is relative to the notebook's folder, ${process.cwd()}`);
});
