// `npm run build` starts from an empty dist/: tsc only adds and overwrites, so a module deleted or renamed in src/
// would otherwise linger in dist/ (and in the published package). Plain Node, so it runs on Windows too (runme.bat).
import { rmSync } from 'node:fs';

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
