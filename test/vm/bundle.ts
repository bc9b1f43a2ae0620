/**
 * Compiles the in-guest suite (with the real tunnel driver, speed probe and stage it imports) into
 * ONE CommonJS file with esbuild (a dev dependency: the build uses it too). Inside the emulated guest,
 * JavaScript is 10-30x slower and every file read over 9p ~20x slower than here, so the guest gets
 * a single, already-compiled file and never the TypeScript toolchain.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export async function bundleGuestSuite(outFile: string): Promise<void> {
  await build({
    entryPoints: [path.join(HERE, 'guest/suite.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    // ESM packages (node-cron, through the config module) read import.meta.url at load; in CommonJS
    // it is empty unless it is defined as the bundle's own file URL.
    banner: { js: "const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
    define: { 'import.meta.url': '__importMetaUrl' },
    sourcemap: 'inline',
    logLevel: 'error',
  });
}
