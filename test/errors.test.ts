import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { TslabCamError, notebookText, showValue } from '../src/errors';
import { asInTslab } from './helpers/host';

function thrown(): TslabCamError {
  try {
    throw new TslabCamError('BAD_CLASS', 'classIndex is 2.5, not an integer.', 'Pass a whole class index from 0 to 9.');
  } catch (e) {
    return e as TslabCamError;
  }
}

test('values in messages: strings quoted, numbers as written, objects by class', () => {
  assert.equal(showValue('7'), 'the string "7"');
  assert.equal(showValue(7), '7');
  assert.equal(showValue(2.5), '2.5');
  assert.equal(showValue(null), 'null');
  assert.equal(showValue(undefined), 'undefined');
  assert.equal(showValue([1, 2]), 'an array of length 2');
  assert.equal(showValue(new Map()), 'an object of class Map');
  assert.equal(showValue('x'.repeat(50)), `the string "${'x'.repeat(40)}…"`);
});

test('in a notebook a TslabCamError prints as its problem and fix, without the stack (tslab prints errors with console.error)', () => {
  const e = thrown();
  const shown = asInTslab(() => inspect(e));
  assert.equal(shown, 'TslabCamError [BAD_CLASS]: classIndex is 2.5, not an integer.\nFix: Pass a whole class index from 0 to 9.\n(error.stack has the full trace)');
  assert.equal(notebookText(e), shown);
  assert.doesNotMatch(shown, /\n\s+at /);
  // The trace stays available for debugging, and the message is unchanged.
  assert.match(e.stack ?? '', /\n\s+at thrown /);
  assert.equal(e.message, 'classIndex is 2.5, not an integer. Fix: Pass a whole class index from 0 to 9.');
  assert.equal(e.problem, 'classIndex is 2.5, not an integer.');
});

test('outside a notebook the usual printout with the stack is kept', () => {
  const shown = inspect(thrown());
  assert.match(shown, /^TslabCamError: classIndex is 2\.5, not an integer\. Fix: Pass a whole class index from 0 to 9\.\n\s+at thrown /);
  assert.match(shown, /code: 'BAD_CLASS'/);
});
