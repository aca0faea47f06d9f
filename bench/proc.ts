/** CPU time read from Linux's /proc, for benches that measure processes they did not start in-process. */
import { readdirSync, readFileSync } from 'node:fs';

/** /proc's clock ticks per second on Linux. */
const TICKS = 100;

/** CPU milliseconds a process (every thread of it) has used so far, user and system. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

/** CPU milliseconds used so far by the Temporal server's processes: the dev server or Temporal Server, and PostgreSQL. */
export function serverCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (/^(temporal|temporal-server|server|postgres)$/.test(comm)) total += cpuMs(Number(pid));
    } catch {
      // A process that ended meanwhile.
    }
  }
  return total;
}
