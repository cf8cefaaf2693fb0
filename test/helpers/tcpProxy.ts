/**
 * A TCP proxy on loopback in front of a real server, to make that server slow
 * (every chunk delayed) or unreachable (connections refused or dropped) on
 * demand, without touching the server. Used by the connector contract tests.
 */
import { createServer, Server, Socket, connect } from 'net';

export interface TcpProxy {
  port: number;
  /** Delay every chunk in both directions by this much (0: none). */
  delayMs: number;
  /** While down, new connections are closed at once and open ones are dropped. */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let down = false;
  const proxy: TcpProxy = {
    port: 0,
    delayMs: 0,
    setDown(value: boolean) {
      down = value;
      if (down) for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const pipe = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      if (proxy.delayMs > 0) setTimeout(() => to.writable && to.write(chunk), proxy.delayMs);
      else if (to.writable) to.write(chunk);
    });
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.port = (server.address() as { port: number }).port;
  return proxy;
}
