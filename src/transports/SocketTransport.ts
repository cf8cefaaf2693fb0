/** TCP and TLS: a net.Socket (tls.TLSSocket is one) as a Transport. */
import { Socket } from 'net';
import type { ClientCertificate } from '../../auth/types';
import { peerCertificate, Transport, TransportKind, TransportSink } from './Transport';

/**
 * Socket events go to shared handlers that find their transport on the socket,
 * rather than to five closures per connection: idle connections are counted in
 * tens of thousands, and closures are a good part of what each one costs.
 */
const kTransport = Symbol('mqlog.transport');
type TransportSocket = Socket & { [kTransport]: SocketTransport };

function onData(this: TransportSocket, chunk: Buffer): void {
  this[kTransport].sink?.data(chunk);
}
function onDrain(this: TransportSocket): void {
  this[kTransport].sink?.drained();
}
function onError(this: TransportSocket, err: Error): void {
  this[kTransport].finish(err);
}
function onClose(this: TransportSocket): void {
  this[kTransport].finish();
}

export class SocketTransport implements Transport {
  readonly remoteAddress: string;
  readonly ip: string;
  readonly certificate: ClientCertificate | null;
  sink: TransportSink | null = null;
  private done = false;

  constructor(
    readonly kind: TransportKind,
    private readonly socket: Socket,
  ) {
    this.ip = socket.remoteAddress ?? 'unknown';
    // join() makes a flat string (a template literal makes a rope the first write to the log copies flat again).
    this.remoteAddress = [this.ip, socket.remotePort ?? 0].join(':');
    this.certificate = peerCertificate(socket);
    socket.setNoDelay(true);
    (socket as TransportSocket)[kTransport] = this;
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
    // No 'end' listener: the servers do not allow half-open sockets (their default), so
    // Node ends our side when the client ends its own, as MQTT wants; one less listener array per socket.
  }

  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
  }

  write(data: Buffer): void {
    if (!this.done && this.socket.writable) this.socket.write(data);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    if (!this.done) this.socket.end();
    // A peer that never reads must not keep the socket open forever.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    this.sink?.closed(err);
  }
}
