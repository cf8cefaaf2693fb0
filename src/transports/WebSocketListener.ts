/**
 * MQTT over WebSocket (ws) and over TLS (wss): binary frames on a path
 * (default /mqtt), subprotocol "mqtt" (also "mqttv3.1" for MQTT 3.1 clients).
 * MQTT packets may span frames and frames may hold several packets, so the
 * transport is a plain byte stream to the decoder.
 */
import { createServer as createHttpServer, IncomingMessage, Server as HttpServer } from 'http';
import { createServer as createHttpsServer } from 'https';
import { WebSocket, WebSocketServer } from 'ws';
import type { ClientCertificate } from '../../auth/types';
import { ConnectionHandler, Listener, peerCertificate, Transport, TransportKind, TransportSink } from './Transport';
import { closeServer, listenOn } from './serverLifecycle';
import { readTlsFiles, TlsFiles } from './TlsListener';

const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

class WebSocketTransport implements Transport {
  private sink: TransportSink | null = null;
  private done = false;

  constructor(
    readonly kind: TransportKind,
    private readonly ws: WebSocket,
    readonly ip: string,
    readonly remoteAddress: string,
    readonly certificate: ClientCertificate | null,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // MQTT over WebSocket uses binary frames only.
      if (!isBinary) {
        ws.close(1003, 'MQTT needs binary frames');
        return;
      }
      this.sink?.data(data);
    });
    ws.on('close', () => this.finish());
    // ws has no drain event of its own; its socket's tells when buffered frames have gone out.
    (ws as unknown as { _socket?: import('net').Socket })._socket?.on('drain', () => this.sink?.drained());
    ws.on('error', (err) => this.finish(err));
  }

  get pendingBytes(): number {
    return this.ws.bufferedAmount;
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
  }

  write(data: Buffer): void {
    if (!this.done && this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary: true });
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  end(): void {
    if (this.done) return;
    this.ws.close(1000);
    setTimeout(() => this.ws.terminate(), 5000).unref();
  }

  destroy(): void {
    this.ws.terminate();
  }

  private finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.sink?.closed(err);
  }
}

export interface WebSocketListenerOptions {
  host: string;
  port: number;
  path: string;
  /** Largest WebSocket message accepted (bytes). */
  maxPayload: number;
  tls?: TlsFiles;
}

export class WebSocketListener implements Listener {
  readonly kind: TransportKind;
  private readonly server: HttpServer;
  private readonly wss: WebSocketServer;

  constructor(
    private readonly options: WebSocketListenerOptions,
    onConnection: ConnectionHandler,
  ) {
    this.kind = options.tls ? 'wss' : 'ws';
    const refuse = (_req: IncomingMessage, res: import('http').ServerResponse) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end(`MQTT over WebSocket is served at ${options.path}\n`);
    };
    this.server = options.tls ? createHttpsServer(readTlsFiles(options.tls, 'WSS listener'), refuse) : createHttpServer(refuse);
    this.wss = new WebSocketServer({
      server: this.server,
      path: options.path,
      maxPayload: options.maxPayload,
      handleProtocols: (protocols) => SUBPROTOCOLS.find((p) => protocols.has(p)) ?? false,
    });
    this.wss.on('connection', (ws, req) => {
      const ip = req.socket.remoteAddress ?? 'unknown';
      onConnection(new WebSocketTransport(this.kind, ws, ip, [ip, req.socket.remotePort ?? 0].join(':'), peerCertificate(req.socket)));
    });
    this.wss.on('error', () => undefined); // listen errors surface through the HTTP server
  }

  listen(): Promise<number> {
    return listenOn(this.server, this.options.host, this.options.port, this.options.tls ? 'MQTT/WSS' : 'MQTT/WebSocket');
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await closeServer(this.server);
  }
}
