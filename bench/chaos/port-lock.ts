/**
 * One run at a time on a machine owns the private ports that `make chaos`, the short chaos test
 * and the stack-lifecycle test start their own broker, Redis and services on (19092-19093,
 * 19300-19303, 19400-19449, 18081, 16379, 18005). Two such runs at once would share a broker
 * and corrupt each other, so each holds this lock for its whole run; `make test` runs its
 * integration suites two at a time and relies on it, and a `make chaos` started beside a
 * `make test` waits instead of breaking both.
 *
 * The holder listens on LOCK_PORT: the kernel frees the port when the holder exits, however it
 * exits (SIGKILL included), so there is never a stale lock to clean up.
 */
import { createServer, type Server } from 'node:net';

export const LOCK_PORT = 19099;

/**
 * Waits (polling every 500 ms, at most `timeoutMs`) until no other process holds the private
 * ports, then holds them until the returned release is called.
 */
export async function holdPrivatePorts(what: string, options: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<() => Promise<void>> {
  const timeoutMs = options.timeoutMs ?? 45 * 60_000;
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    const server = await listenOn(LOCK_PORT);
    if (server !== null) return () => new Promise<void>((resolve) => server.close(() => resolve()));
    if (!told) {
      options.log?.(`[ports] ${what}: another run holds the private ports (it listens on 127.0.0.1:${LOCK_PORT}); waiting for it to finish`);
      told = true;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: another process has held the private ports (127.0.0.1:${LOCK_PORT}) for ${Math.round(timeoutMs / 60_000)} minutes; find it with \`ss -ltnp 'sport = :${LOCK_PORT}'\`, and stop it or wait for it`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A server listening on the port, or null when the port is taken. */
function listenOn(port: number): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(null) : reject(error)));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}
