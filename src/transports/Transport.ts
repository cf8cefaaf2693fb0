/**
 * A byte pipe to one client. Transports only move bytes; everything MQTT is
 * above them. Each listener hands new transports to the node, which attaches a
 * sink for what arrives.
 */
import type { ClientCertificate } from '../../auth/types';
import { TLSSocket } from 'tls';

/** What a TLS peer presented, if anything. */
export function peerCertificate(socket: unknown): ClientCertificate | null {
  if (!(socket instanceof TLSSocket)) return null;
  const cert = socket.getPeerCertificate();
  if (!cert || !cert.subject) return null;
  const cn = Array.isArray(cert.subject.CN) ? cert.subject.CN[0] : cert.subject.CN;
  return { cn: cn ?? '', verified: socket.authorized };
}

export type TransportKind = 'tcp' | 'tls' | 'ws' | 'wss';

export interface TransportSink {
  data(chunk: Buffer): void;
  /** The connection is gone (either side closed it, or it failed). Called once. */
  closed(error?: Error): void;
  /** What was written has been handed to the OS: there is room to write again. */
  drained(): void;
}

export interface Transport {
  readonly kind: TransportKind;
  readonly remoteAddress: string;
  /** The peer's IP address (no port). */
  readonly ip: string;
  /** The client's TLS certificate, when it presented one (TLS and WSS). */
  readonly certificate: ClientCertificate | null;
  /** Bytes accepted by `write` but not yet handed to the OS. */
  readonly pendingBytes: number;
  attach(sink: TransportSink): void;
  write(data: Buffer): void;
  /** Stops reading from the client (backpressure); `resume` reads again. */
  pause(): void;
  resume(): void;
  /** Flushes what was written, then closes. */
  end(): void;
  /** Closes at once. */
  destroy(): void;
}

export type ConnectionHandler = (transport: Transport) => void;

export interface Listener {
  readonly kind: TransportKind;
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(): Promise<number>;
  /** Stops accepting connections (existing ones stay open). */
  close(): Promise<void>;
}
