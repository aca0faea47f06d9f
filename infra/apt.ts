/** Installing Debian packages with apt-get. */
import { execFileSync } from 'node:child_process';

/**
 * Installs Debian packages with apt-get (as root, or through sudo). Only the Debian mirror is
 * contacted. Throws with apt-get's reason when it fails.
 */
export function aptInstall(packages: string[]): void {
  const root = process.getuid?.() === 0;
  const run = (args: string[]) =>
    execFileSync(root ? args[0]! : 'sudo', root ? args.slice(1) : args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 600_000,
    });
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', ...packages]);
}
