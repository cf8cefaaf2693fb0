import { AuthDecision, AuthRequest, Authenticator } from '../types';

/**
 * TLS client certificates: a client whose certificate the TLS handshake
 * verified is let in with the certificate's common name as its user name.
 */
export class CertificateAuthenticator implements Authenticator {
  readonly name = 'certificate';
  readonly immediate = true;

  async authenticate(request: AuthRequest): Promise<AuthDecision> {
    const cert = request.certificate;
    if (!cert || !cert.verified || !cert.cn) return { result: 'ignore' };
    return { result: 'allow', username: cert.cn, reason: `verified client certificate CN=${cert.cn}` };
  }
}
