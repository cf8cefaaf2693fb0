// Ports and readiness: a broker is ready when it answers an MQTT CONNECT.
import net from 'node:net';
import { connect } from '../load/mqtt.mjs';

/** A loopback port nobody listens on right now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Polls `port` every `everyMs` until a CONNECT gets its CONNACK; fails when `proc`
 * exits first or after timeoutMs. Resolves with the time it succeeded (performance.now()).
 */
export async function waitForMqtt(port, proc, { timeoutMs = 60000, everyMs = 10 } = {}) {
  const deadline = performance.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (!proc.running) throw new Error(`${proc.name} exited (${JSON.stringify(proc.exitInfo)}) before accepting connections:\n${proc.logTail()}`);
    try {
      const client = await connect({ port, clientId: `bench-probe-${process.pid}-${attempt}`, timeoutMs: 2000 });
      const at = performance.now();
      client.end();
      return at;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`${proc.name} did not accept MQTT connections on port ${port} within ${timeoutMs} ms:\n${proc.logTail()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
