import { readFileSync } from 'fs';
import { createServer, Server, TLSSocket } from 'tls';
import { ConnectionHandler, Listener } from './Transport';
import { SocketTransport } from './SocketTransport';
import { closeServer, listenOn } from './serverLifecycle';

export interface TlsFiles {
  /** PEM private key. */
  keyFile: string;
  /** PEM certificate (chain). */
  certFile: string;
  /** PEM CA bundle for client certificates. */
  caFile?: string;
  /** Ask clients for a certificate and refuse those that do not present a valid one. */
  requireClientCert?: boolean;
}

export interface TlsListenerOptions extends TlsFiles {
  host: string;
  port: number;
}

export function readTlsFiles(files: TlsFiles, what: string): { key: Buffer; cert: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: boolean } {
  const read = (path: string, field: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`${what}: cannot read ${field} '${path}': ${(err as Error).message}`);
    }
  };
  return {
    key: read(files.keyFile, 'keyFile'),
    cert: read(files.certFile, 'certFile'),
    ca: files.caFile ? read(files.caFile, 'caFile') : undefined,
    requestCert: files.requireClientCert === true,
    rejectUnauthorized: files.requireClientCert === true,
  };
}

export class TlsListener implements Listener {
  readonly kind = 'tls' as const;
  private readonly server: Server;

  constructor(
    private readonly options: TlsListenerOptions,
    onConnection: ConnectionHandler,
  ) {
    this.server = createServer(readTlsFiles(options, 'TLS listener'), (socket: TLSSocket) =>
      onConnection(new SocketTransport('tls', socket)),
    );
    // Failed handshakes are the client's problem; they must not surface as server errors.
    this.server.on('tlsClientError', (_err, socket) => socket.destroy());
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.options.host, this.options.port, 'MQTT/TLS');
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}
