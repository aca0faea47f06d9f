/** Free TCP ports. */
import { createServer } from 'node:net';

/** A port the OS says is free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True if nothing listens on 127.0.0.1:port right now. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Ports this process has handed out: free when picked, but not yet bound by what they were picked for. */
const handedOut = new Set<number>();

/**
 * A free port from a range, never one this process handed out before (two clusters brought up at
 * once, as regions are, each pick a dozen ports before either binds one). Temporal stores its
 * services' membership ports as a SQL smallint, so a cluster's internal ports stay below 32768 (the
 * OS's ephemeral ports usually start above that).
 */
export async function freePortIn(low: number, high: number, taken: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (taken.has(port) || handedOut.has(port)) continue;
    handedOut.add(port);
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high}`);
}
