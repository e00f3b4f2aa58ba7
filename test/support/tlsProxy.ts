import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A TLS-terminating gRPC proxy for tests, as a managed Milvus (Zilliz Cloud) fronts its clusters:
 * it serves HTTP/2 over TLS with a certificate a private CA signed, refuses every call whose
 * `authorization` header is not the given token (gRPC UNAUTHENTICATED, as Milvus answers), and
 * forwards the others stream by stream, bytes as they are, to a plaintext Milvus (milvus-lite).
 * It counts TLS handshakes (accepted and refused) and calls per method, so that a test can tell
 * which paths went through it and how often a client tried.
 */

/** A private CA and a server certificate it signed, for 127.0.0.1 and localhost; made with the openssl CLI. */
export interface TestCertificates {
  /** PEM of the CA: what a client must be given to trust the server. */
  caCert: string;
  serverKey: string;
  serverCert: string;
  /** A file holding caCert, for the CLI's --source-ca-cert. */
  caCertFile: string;
  /** Removes the files. */
  remove(): void;
}

export function makeTestCertificates(commonName = 'milvus-migrate test CA'): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'mm-tls-'));
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', `/CN=${commonName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(file('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '2', '-extfile', file('ext.cnf'));
  return {
    caCert: readFileSync(file('ca.pem'), 'utf8'),
    serverKey: readFileSync(file('server.key'), 'utf8'),
    serverCert: readFileSync(file('server.pem'), 'utf8'),
    caCertFile: file('ca.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

interface TlsProxyCounts {
  /** TLS handshakes completed. */
  handshakes: number;
  /** TLS handshakes the client broke off (it did not trust the certificate, or spoke plaintext). */
  refusedHandshakes: number;
  /** Calls answered UNAUTHENTICATED for a missing or wrong token. */
  unauthenticated: number;
  /** Calls forwarded upstream. */
  forwarded: number;
}

export interface TlsProxy {
  /** `https://127.0.0.1:<port>`: what a client gives as uri. */
  readonly uri: string;
  readonly port: number;
  readonly counts: TlsProxyCounts;
  /** Calls per method (short names: Query, Insert...), refused ones included. */
  readonly callsByMethod: Record<string, number>;
  /**
   * Calls per method that came without the SDK's `client-request-unixmsec` header: those of the
   * raw channel (lib/milvus/columnar.ts, rowQuery.ts), which sends only the client's own metadata.
   */
  readonly rawCallsByMethod: Record<string, number>;
  /** Sets every count back to 0. */
  reset(): void;
  stop(): Promise<void>;
}

export interface TlsProxyOptions {
  /** host:port of the plaintext Milvus. */
  upstream: string;
  certificates: Pick<TestCertificates, 'serverKey' | 'serverCert'>;
  /** The token every call must carry (`authorization: base64(token)`, as the Milvus SDKs send it). */
  token: string;
}

const { HTTP2_HEADER_STATUS, HTTP2_HEADER_PATH, HTTP2_HEADER_METHOD, HTTP2_HEADER_CONTENT_TYPE } = http2.constants;
const GRPC_UNAUTHENTICATED = 16;

export async function startTlsProxy(options: TlsProxyOptions): Promise<TlsProxy> {
  const expected = Buffer.from(options.token, 'utf8').toString('base64');
  const counts: TlsProxyCounts = { handshakes: 0, refusedHandshakes: 0, unauthenticated: 0, forwarded: 0 };
  const callsByMethod: Record<string, number> = {};
  const rawCallsByMethod: Record<string, number> = {};
  let upstream: http2.ClientHttp2Session | undefined;
  const upstreamSession = (): http2.ClientHttp2Session => {
    if (!upstream || upstream.closed || upstream.destroyed) {
      upstream = http2.connect(`http://${options.upstream}`);
      upstream.on('error', () => undefined);
    }
    return upstream;
  };

  const server = http2.createSecureServer({ key: options.certificates.serverKey, cert: options.certificates.serverCert, allowHTTP1: false });
  server.on('secureConnection', () => (counts.handshakes += 1));
  server.on('tlsClientError', () => (counts.refusedHandshakes += 1));
  server.on('sessionError', () => undefined);
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const method = String(headers[HTTP2_HEADER_PATH] ?? '').split('/').pop() ?? '';
    callsByMethod[method] = (callsByMethod[method] ?? 0) + 1;
    if (headers['client-request-unixmsec'] === undefined) rawCallsByMethod[method] = (rawCallsByMethod[method] ?? 0) + 1;
    if (headers.authorization !== expected) {
      counts.unauthenticated += 1;
      // A trailers-only gRPC reply.
      stream.respond(
        { [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc', 'grpc-status': String(GRPC_UNAUTHENTICATED), 'grpc-message': 'invalid token, the proxy refused the call' },
        { endStream: true },
      );
      stream.resume();
      return;
    }
    counts.forwarded += 1;
    const forwarded: http2.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) if (!name.startsWith(':') || name === HTTP2_HEADER_PATH || name === HTTP2_HEADER_METHOD) forwarded[name] = value;
    const out = upstreamSession().request(forwarded);
    out.on('error', () => stream.destroy());
    stream.on('close', () => {
      if (!out.closed) out.close(http2.constants.NGHTTP2_CANCEL);
    });
    stream.pipe(out);
    out.on('response', (replyHeaders, flags) => {
      const trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      const { [HTTP2_HEADER_STATUS]: status, ...rest } = replyHeaders;
      if (trailersOnly) {
        stream.respond({ [HTTP2_HEADER_STATUS]: status, ...rest }, { endStream: true });
        return;
      }
      let trailers: http2.OutgoingHttpHeaders = {};
      out.on('trailers', (t) => (trailers = t));
      stream.respond({ [HTTP2_HEADER_STATUS]: status, ...rest }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers(trailers));
      out.pipe(stream);
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });

  return {
    uri: `https://127.0.0.1:${port}`,
    port,
    counts,
    callsByMethod,
    rawCallsByMethod,
    reset() {
      Object.assign(counts, { handshakes: 0, refusedHandshakes: 0, unauthenticated: 0, forwarded: 0 });
      for (const calls of [callsByMethod, rawCallsByMethod]) for (const key of Object.keys(calls)) delete calls[key];
    },
    async stop() {
      for (const session of sessions) session.destroy();
      upstream?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
