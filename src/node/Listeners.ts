/** The node's listeners, one per configured transport (TCP, TLS, WS, WSS): they hand new transports to the node. */
import type { BrokerConfig } from '../config';
import { shareAcceptedSocketShapes } from '../transports/acceptedSocketShapes';
import { Listener, Transport } from '../transports/Transport';
import { TcpListener } from '../transports/TcpListener';
import { TlsListener } from '../transports/TlsListener';
import { WebSocketListener } from '../transports/WebSocketListener';

export interface ListeningPorts {
  tcp?: number;
  tls?: number;
  ws?: number;
  wss?: number;
  /** The HTTP API and metrics. */
  api?: number;
}

export class Listeners {
  private servers: Listener[] = [];

  async open(config: BrokerConfig, onConnection: (t: Transport) => void): Promise<ListeningPorts> {
    const l = config.listeners;
    // Before the first client is accepted: on Node 20 every accepted socket otherwise made hidden classes of its own (see there).
    shareAcceptedSocketShapes();
    const made: Array<[keyof ListeningPorts, Listener]> = [];
    if (l.tcp.enabled) made.push(['tcp', new TcpListener(l.tcp, onConnection)]);
    if (l.tls.enabled) made.push(['tls', new TlsListener({ ...l.tls, caFile: l.tls.caFile || undefined }, onConnection)]);
    const maxPayload = config.mqtt.maxPacketSize;
    if (l.ws.enabled) made.push(['ws', new WebSocketListener({ host: l.ws.host, port: l.ws.port, path: l.ws.path, maxPayload }, onConnection)]);
    if (l.wss.enabled) {
      const tls = { keyFile: l.wss.keyFile, certFile: l.wss.certFile, caFile: l.wss.caFile || undefined, requireClientCert: l.wss.requireClientCert };
      made.push(['wss', new WebSocketListener({ host: l.wss.host, port: l.wss.port, path: l.wss.path, maxPayload, tls }, onConnection)]);
    }
    const ports: ListeningPorts = {};
    try {
      for (const [kind, listener] of made) {
        ports[kind] = await listener.listen();
        this.servers.push(listener);
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    return ports;
  }

  /** Stops accepting; resolves once the servers report closed (after their connections are gone). */
  close(): Promise<void> {
    const closing = Promise.all(this.servers.map((s) => s.close())).then(() => undefined);
    this.servers = [];
    return closing;
  }
}
