/** Writes notebooks/00-setup-check.ipynb: the one-line import and a backend report. */
import * as fs from 'fs';
import * as path from 'path';
import { makeNotebook, ROOT } from './jupyter';

const nb = makeNotebook([
  '%md\n# 00 · 動作確認 / Setup check\n\nライブラリは次の 1 行で読み込めます(型付き)。\nOne line imports the library, with full types:',
  'import * as tc from "..";',
  '// A type-only use: this cell fails to compile if the type declarations are missing.\nconst info: tc.BackendInfo = await tc.backendInfo();\nconsole.log(`backend=${info.name} (${info.reason}); tfjs ${info.tfjsVersion}`);',
]);
fs.writeFileSync(path.join(ROOT, 'notebooks', '00-setup-check.ipynb'), JSON.stringify(nb, null, 1) + '\n');
