import { createServer, Server } from 'net';
import { ConnectionHandler, Listener } from './Transport';
import { SocketTransport } from './SocketTransport';
import { listenOn, closeServer } from './serverLifecycle';

export interface TcpListenerOptions {
  host: string;
  port: number;
}

export class TcpListener implements Listener {
  readonly kind = 'tcp' as const;
  private readonly server: Server;

  constructor(
    private readonly options: TcpListenerOptions,
    onConnection: ConnectionHandler,
  ) {
    this.server = createServer((socket) => onConnection(new SocketTransport('tcp', socket)));
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.options.host, this.options.port, 'MQTT/TCP');
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}
