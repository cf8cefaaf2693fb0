/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), written here from the
 * RFC with node:crypto alone (not with the broker's code), to drive MQTT 5
 * enhanced authentication in tests.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'crypto';

const hmac = (key: Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

/** `,` and `=` in a name are escaped as `=2C` and `=3D` (RFC 5802 §5.1). */
export const saslName = (name: string) => name.replace(/=/g, '=3D').replace(/,/g, '=2C');

export class ScramClient {
  private readonly bare: string;
  private serverSignature: Buffer | null = null;

  constructor(
    readonly username: string,
    private readonly password: string,
    readonly nonce: string = randomBytes(18).toString('base64'),
  ) {
    this.bare = `n=${saslName(username)},r=${nonce}`;
  }

  /** client-first-message: no channel binding, no authzid. */
  first(): Buffer {
    return Buffer.from(`n,,${this.bare}`);
  }

  /** client-final-message for the server's first message; throws on a server nonce that does not extend ours. */
  final(serverFirstBytes: Buffer | string): Buffer {
    const serverFirst = serverFirstBytes.toString();
    const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)] as const));
    const nonce = attrs.get('r') ?? '';
    if (!nonce.startsWith(this.nonce) || nonce.length <= this.nonce.length) throw new Error(`server nonce ${nonce} does not extend the client's`);
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    const salted = pbkdf2Sync(this.password, salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const signature = hmac(sha256(clientKey), authMessage);
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i] ^ signature[i];
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }

  /** Whether the server-final-message proves the server knows the user's key (RFC 5802 §3). */
  verifyServer(serverFinal: Buffer | string | undefined): boolean {
    const text = serverFinal?.toString() ?? '';
    if (!this.serverSignature || !text.startsWith('v=')) return false;
    const v = Buffer.from(text.slice(2), 'base64');
    return v.length === 32 && timingSafeEqual(v, this.serverSignature);
  }
}
