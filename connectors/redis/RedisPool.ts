/**
 * A few ioredis connections used in turn. Each call is bounded: commands time
 * out (commandTimeout), a command never waits through a reconnection (it fails
 * at once when the connection drops or is refused), and a connection that
 * cannot be re-established stops retrying after a few attempts instead of
 * looping forever in the background; the next call opens it again.
 */
import Redis from 'ioredis';
import { describeError } from '../shared/deadline';
import { RedisSettings } from './redisConfig';

/** Reconnection attempts (100 ms apart, growing to 500 ms) before a connection rests until it is next needed. */
const RECONNECT_ATTEMPTS = 5;

export class RedisPool {
  private readonly clients: Redis[];
  /** The last connection error of each client: ioredis fails queued commands without saying why. */
  private readonly lastErrors = new WeakMap<Redis, string>();
  private next = 0;
  private closed = false;

  constructor(settings: RedisSettings) {
    this.clients = Array.from({ length: settings.poolSize }, () => {
      const client = new Redis({
        ...settings.connection,
        lazyConnect: true,
        connectTimeout: settings.connectTimeoutMs,
        commandTimeout: settings.timeoutMs,
        maxRetriesPerRequest: 0,
        retryStrategy: (attempt) => (attempt > RECONNECT_ATTEMPTS ? null : attempt * 100),
      });
      client.on('ready', () => this.lastErrors.delete(client));
      // Without a listener ioredis prints every failed reconnection to the console.
      client.on('error', (err: unknown) => {
        this.lastErrors.set(client, describeError(err));
        settings.logger.debug({ err: describeError(err) }, 'Redis connection error');
      });
      return client;
    });
  }

  /** Runs `command` on the next connection; a connection-level failure names its cause. */
  async run<T>(command: (redis: Redis) => Promise<T>): Promise<T> {
    const client = this.pick();
    try {
      return await command(client);
    } catch (err) {
      const cause = this.lastErrors.get(client);
      if (cause && client.status !== 'ready') throw new Error(`no connection (${cause})`);
      throw err;
    }
  }

  close(): void {
    this.closed = true;
    // disconnect() closes at once and stops reconnecting; QUIT could wait on a slow server.
    for (const client of this.clients) client.disconnect();
  }

  private pick(): Redis {
    if (this.closed) throw new Error('the connector is closed');
    const client = this.clients[this.next];
    this.next = (this.next + 1) % this.clients.length;
    // "end": it stopped retrying; connecting again queues the command until it is ready or fails.
    if (client.status === 'end') client.connect().catch(() => undefined);
    return client;
  }
}
