/** TCP and TLS: a net.Socket (tls.TLSSocket is one) as a Transport. */
import { Socket } from 'net';
import type { ClientCertificate } from '../../auth/types';
import { peerCertificate, Transport, TransportKind, TransportSink } from './Transport';

export class SocketTransport implements Transport {
  readonly remoteAddress: string;
  readonly ip: string;
  readonly certificate: ClientCertificate | null;
  private sink: TransportSink | null = null;
  private done = false;

  constructor(
    readonly kind: TransportKind,
    private readonly socket: Socket,
  ) {
    this.ip = socket.remoteAddress ?? 'unknown';
    this.remoteAddress = `${this.ip}:${socket.remotePort ?? 0}`;
    this.certificate = peerCertificate(socket);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.sink?.data(chunk));
    socket.on('error', (err) => this.finish(err));
    socket.on('drain', () => this.sink?.drained());
    socket.on('close', () => this.finish());
    socket.on('end', () => socket.end()); // half-open sockets are of no use to MQTT
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

  private finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    this.sink?.closed(err);
  }
}
