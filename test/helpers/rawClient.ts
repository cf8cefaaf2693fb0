/**
 * A raw MQTT client for protocol edge cases: sends exact bytes or packets, and
 * records every packet the broker sends and whether it closed the connection.
 */
import mqttPacket, { Packet } from 'mqtt-packet';
import { connect, Socket } from 'net';

export class RawClient {
  readonly packets: Packet[] = [];
  closed = false;
  private readonly parser: ReturnType<typeof mqttPacket.parser>;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly socket: Socket,
    protocolVersion = 4,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion });
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      this.wake();
    });
    this.parser.on('error', () => undefined);
    socket.on('data', (d) => this.parser.parse(d));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** A client on a socket that is already connected (e.g. from a chosen local address). */
  static wrap(socket: Socket): RawClient {
    return new RawClient(socket);
  }

  /** `protocolVersion` 5 reads the broker's packets as MQTT 5 (reason codes, properties). */
  static connect(port: number, host = '127.0.0.1', protocolVersion = 4): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => resolve(new RawClient(socket, protocolVersion)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(packet: Packet | Buffer): void {
    this.socket.write(Buffer.isBuffer(packet) ? packet : mqttPacket.generate(packet));
  }

  /** Resolves with the first received packet (not yet taken) matching `pred`. */
  async next<T extends Packet = Packet>(pred: (p: Packet) => boolean = () => true, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.packets.findIndex(pred);
      if (i >= 0) return this.packets.splice(i, 1)[0] as T;
      if (this.closed) throw new Error(`connection closed while waiting; got ${JSON.stringify(this.packets.map((p) => p.cmd))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a packet; got ${JSON.stringify(this.packets.map((p) => p.cmd))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  nextCmd<T extends Packet = Packet>(cmd: Packet['cmd'], timeoutMs = 5000): Promise<T> {
    return this.next<T>((p) => p.cmd === cmd, timeoutMs);
  }

  /** Resolves true once the broker has closed the connection, false after the timeout. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closed;
  }

  /** CONNECT with MQTT 3.1.1 defaults, returns the CONNACK. */
  async handshake(clientId: string, extra: Partial<mqttPacket.IConnectPacket> = {}): Promise<mqttPacket.IConnackPacket> {
    this.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId, ...extra });
    return this.nextCmd<mqttPacket.IConnackPacket>('connack');
  }

  destroy(): void {
    this.socket.destroy();
  }

  end(): void {
    this.socket.end();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until true or the timeout (then throws naming `what`). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Drains a raw subscriber: acknowledges every PUBLISH (QoS 1 and the whole QoS 2
 * exchange) until `quietMs` pass without one, and returns what it got.
 */
export async function drainPublishes(c: RawClient, quietMs: number): Promise<mqttPacket.IPublishPacket[]> {
  const got: mqttPacket.IPublishPacket[] = [];
  for (;;) {
    let p: mqttPacket.IPublishPacket;
    try {
      p = await c.nextCmd<mqttPacket.IPublishPacket>('publish', quietMs);
    } catch {
      return got;
    }
    got.push(p);
    if (p.qos === 1) c.send({ cmd: 'puback', messageId: p.messageId });
    if (p.qos === 2) {
      c.send({ cmd: 'pubrec', messageId: p.messageId });
      await c.nextCmd('pubrel', 5000);
      c.send({ cmd: 'pubcomp', messageId: p.messageId });
    }
  }
}
