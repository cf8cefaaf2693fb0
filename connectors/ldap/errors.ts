/**
 * What an error from the directory means for a login. An LDAP result code
 * (RFC 4511 section 4.1.9, appendix A) is the server's answer; anything else
 * (refused connection, reset, TLS failure, a timeout) means the server could
 * not be asked, and is reported as ConnectorUnavailable so the broker answers
 * CONNACK "server unavailable" instead of "bad password".
 */
import { ResultCodeError } from 'ldapts';
import { ConnectorUnavailable } from '../../auth/types';

/** RFC 4511 appendix A result codes the authenticator acts on. */
export const ResultCode = {
  noSuchObject: 32,
  invalidDNSyntax: 34,
  inappropriateAuthentication: 48,
  invalidCredentials: 49,
} as const;

export function resultCode(err: unknown): number | null {
  return err instanceof ResultCodeError ? err.code : null;
}

/** How a bind as the user ended, when the server answered it with an error. */
export type FailedBind = 'rejected' | 'no-such-user';

/**
 * invalidCredentials is a wrong password (or, on most servers, an unknown DN:
 * they do not tell the two apart, RFC 4513 section 6.3.1);
 * inappropriateAuthentication an entry without a password. A DN the server
 * cannot parse or does not hold is no such user. Anything else is not about
 * the user: null (the caller reports the server as unavailable).
 */
export function failedBind(err: unknown): FailedBind | null {
  switch (resultCode(err)) {
    case ResultCode.invalidCredentials:
    case ResultCode.inappropriateAuthentication:
      return 'rejected';
    case ResultCode.noSuchObject:
    case ResultCode.invalidDNSyntax:
      return 'no-such-user';
    default:
      return null;
  }
}

/** The error as ConnectorUnavailable, naming the step that failed. Never includes a password (none is in ldapts' messages). */
export function unavailable(connector: string, step: string, err: unknown): ConnectorUnavailable {
  if (err instanceof ConnectorUnavailable) return err;
  const code = resultCode(err);
  const e = err instanceof Error ? err : new Error(String(err));
  const what = code !== null ? `${e.name} (LDAP result ${code})${e.message ? `: ${e.message}` : ''}` : e.message.split('\n')[0];
  return new ConnectorUnavailable(connector, `${step}: ${what}`);
}
