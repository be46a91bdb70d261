import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { type ProcessRun, runProcess } from '../../lib/run-process';

const ROOT = new URL('../..', import.meta.url).pathname;
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/**
 * Runs `bin/<script>` as `npm run <script> --` does (node with tsx's loader, from the repository root), with
 * only PATH and HOME from this environment so no AWS setting leaks in, and `stdin` as its standard input (none:
 * closed). Resolves once it exited; the process is never left running.
 */
export async function runScript(
  script: string,
  args: readonly string[],
  stdin?: string,
): Promise<ProcessRun> {
  return await runProcess(process.execPath, ['--import', TSX_LOADER, `bin/${script}`, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
    stdin: stdin ?? '',
  });
}
