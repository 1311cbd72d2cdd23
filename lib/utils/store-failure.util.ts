/** Why the lock store could not be used, in words, and what to do about it. */
export interface StoreFailure {
  /** Follows "the lock store (Redis)": `was unreachable: connection refused by 127.0.0.1:6390`. */
  readonly reason: string;
  /** A sentence on what to check. */
  readonly advice: string;
}

/** The fields Node's network, DNS and TLS errors carry (never a password). */
interface SystemError extends Error {
  readonly code?: string;
  readonly address?: string;
  readonly port?: number;
  readonly hostname?: string;
  /** OpenSSL's short reason (`wrong version number`). */
  readonly reason?: string;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);
const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|EPROTO$|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_|CERT_)/;
/** Redis replies that refuse the connection's credentials (wrong password or user, or none given). */
const AUTH_REPLY = /^(WRONGPASS|NOAUTH)\b|^ERR (invalid (username-)?password|AUTH\b|Client sent AUTH)/;

const UNREACHABLE = 'was unreachable';
const CHECK_UP = 'Check that Redis is up and reachable from this process.';

/**
 * Whether a Redis reply refuses the connection's credentials.
 * @param error a client's error
 */
export function isAuthFailure(error: unknown): boolean {
  return isErrorLike(error) && AUTH_REPLY.test(error.message);
}

/**
 * Names the cause of a store failure once: the innermost error of the chain that says more than "unavailable"
 * (refused, DNS, authentication, TLS, reset, timeout), with the host and port when the error gives them.
 * @param cause what the client failed with (possibly wrapped in lock errors, whose `cause` is followed)
 */
export function explainStoreFailure(cause: unknown): StoreFailure {
  const chain = causeChain(cause);
  const explained = chain.map(explainOne).find((failure) => failure !== undefined);
  if (explained) {
    return explained;
  }
  const message = chain.at(-1)?.message;
  return { reason: message === undefined ? UNREACHABLE : `${UNREACHABLE} (${firstLine(message)})`, advice: CHECK_UP };
}

/** The errors from `cause` inward; lock errors (which say only "unavailable") are passed through. */
function causeChain(cause: unknown): Error[] {
  const chain: Error[] = [];
  for (let current = cause; isErrorLike(current) && chain.length < 10; current = current.cause) {
    chain.push(current);
  }
  const own = chain.filter((error) => !isLockError(error));
  return own.length > 0 ? own.reverse() : chain;
}

function explainOne(error: SystemError): StoreFailure | undefined {
  const code = error.code ?? '';
  const where = error.address === undefined ? '' : error.port === undefined ? ` ${error.address}` : ` ${error.address}:${error.port}`;
  if (code === 'ECONNREFUSED') {
    return {
      reason: `${UNREACHABLE}: connection refused by${where || ' the server'}`,
      advice: 'Check that Redis runs at that address and port.',
    };
  }
  if (DNS_CODES.has(code)) {
    return {
      reason: `${UNREACHABLE}: the host name ${JSON.stringify(error.hostname ?? '?')} did not resolve (DNS: ${code})`,
      advice: 'Check the host name in the redis option, and the DNS of this machine.',
    };
  }
  if (isAuthFailure(error)) {
    return {
      reason: `refused this app's credentials (${firstLine(error.message)})`,
      advice: 'Check the password (and user name) in the redis option against the server’s requirepass or ACL users.',
    };
  }
  if (error.name === 'ReplyError') {
    return {
      reason: `refused the command (${firstLine(error.message)})`,
      advice: 'Check the Redis user’s permissions (docs/operations.md, "ACL").',
    };
  }
  if (TLS_CODE.test(code)) {
    return {
      reason: `${UNREACHABLE}: the TLS handshake failed (${error.reason ?? firstLine(error.message)})`,
      advice:
        'Check that the server speaks TLS on that port (rediss:// or the tls option only for a TLS port) and that its ' +
        'certificate is trusted for that host name (tls.ca).',
    };
  }
  if (code === 'ETIMEDOUT') {
    return {
      reason: `${UNREACHABLE}: connecting${where ? ` to${where}` : ''} timed out`,
      advice: 'Check that Redis runs there and that no firewall drops the connection.',
    };
  }
  if (UNREACHABLE_CODES.has(code)) {
    return {
      reason: `${UNREACHABLE}: no route to${where || ' the host'} (${code})`,
      advice: 'Check the address and the network of this machine.',
    };
  }
  if (RESET_CODES.has(code)) {
    return { reason: `${UNREACHABLE}: the connection${where ? ` to${where}` : ''} was reset (${code})`, advice: CHECK_UP };
  }
  return undefined;
}

/** An Error, also one made in another realm (Node's own errors, seen from a Jest vm context, fail `instanceof`). */
function isErrorLike(value: unknown): value is Error {
  return typeof value === 'object' && value !== null && typeof (value as Error).message === 'string';
}

function isLockError(error: Error): boolean {
  // By name: the errors module imports this file, so it cannot be imported here.
  return /^Lock\w*Error$/.test(error.name);
}

function firstLine(text: string): string {
  return text.split('\n')[0].trim();
}
