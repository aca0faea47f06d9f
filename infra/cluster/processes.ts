/** The cluster's own processes: started detached with their logs in files, checked, and stopped. */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { UserError } from '../user-error';

export function pidAlive(pid: number | undefined): pid is number {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function spawnDetached(command: string, args: string[], logFile: string, cwd: string): number {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  if (!child.pid) throw new UserError(`could not start ${command}`, 'UNAVAILABLE');
  return child.pid;
}

export function logTail(file: string, pattern = /error|fatal|panic|bind|refused|unable/i): string {
  if (!existsSync(file)) return '';
  const lines = readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  const flagged = lines.filter((l) => pattern.test(l)).slice(-2);
  return (flagged.length ? flagged : lines.slice(-2)).join(' | ').slice(0, 400);
}

export async function stopPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + 20_000;
  while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
}
