// Copies the screenshots of the main views, taken by the browser tests, to
// where the README shows them from (`tests/ui/readme/`). Run through
// `npm run screenshots`, which runs the tests first.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SCREENSHOTS } from './support.mjs';

const SHOWN = ['quick-add', 'view-upcoming', 'edit-dialog', 'dark-completed', 'quick-add-390'];
const target = join(SCREENSHOTS, '..', 'readme');
mkdirSync(target, { recursive: true });
for (const name of SHOWN) copyFileSync(join(SCREENSHOTS, `${name}.png`), join(target, `${name}.png`));
console.log(`copied ${SHOWN.length} screenshots to ${target}`);
