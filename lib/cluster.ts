import { X509Certificate } from 'node:crypto';
import * as z from 'zod';

/** `[http(s)://][user:password@]host[:port][/]`: a host name, an IPv4 or a bracketed IPv6 address. */
const CLUSTER_URI = /^(?:https?:\/\/)?(?:[^\s/?#@]+@)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?\/?$/;

/** Largest `tls.caCert` accepted: a bundle of a few dozen certificates, small enough that the secret holding it with the credentials stays under Secrets Manager's 64 KiB. */
export const MAX_CA_CERT_BYTES = 48 * 1024;
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;

/** Whether a text is one or more PEM certificates (and nothing else) that parse as X.509. */
export function isPemCertificates(text: string): boolean {
  const blocks = text.match(PEM_BLOCK);
  if (!blocks || text.replace(PEM_BLOCK, '').trim() !== '') return false;
  try {
    for (const block of blocks) new X509Certificate(block);
    return true;
  } catch {
    return false;
  }
}

/**
 * TLS settings of a cluster: a private CA (PEM) to trust instead of the system roots, and the name
 * to check its certificate against when it differs from the uri's host. Travels with the
 * credentials: kept apart from the job, never returned, logged or recorded.
 */
export const ClusterTls = z.strictObject({
  caCert: z
    .string()
    .min(1)
    .max(MAX_CA_CERT_BYTES, `caCert must be at most ${MAX_CA_CERT_BYTES / 1024} KiB of PEM`)
    .refine(isPemCertificates, 'caCert must be PEM text of one or more certificates (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)')
    .optional(),
  serverName: z
    .string()
    .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, 'serverName must be a host name')
    .optional(),
});
export type ClusterTls = z.infer<typeof ClusterTls>;

/**
 * How a request names a cluster. Credentials are either inline (token, or username and password)
 * or, on AWS, a Secrets Manager secret holding the same JSON.
 */
export const ClusterConnection = z
  .object({
    uri: z
      .string()
      .min(1, 'uri is required')
      .max(2048)
      .refine((u) => CLUSTER_URI.test(u) && Number(CLUSTER_URI.exec(u)?.[1] ?? 1) <= 65535, 'uri must be host:port or http(s)://host[:port]'),
    token: z.string().min(1).max(4096).optional(),
    username: z.string().min(1).max(256).optional(),
    password: z.string().min(1).max(4096).optional(),
    secretArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'secretArn must be a Secrets Manager secret ARN')
      .optional(),
    tls: ClusterTls.optional(),
  })
  .strict()
  .refine((c) => !(c.token && (c.username || c.password)), 'give either token or username/password, not both')
  .refine((c) => Boolean(c.username) === Boolean(c.password), 'username and password go together')
  .refine((c) => !(c.secretArn && (c.token || c.username)), 'give either secretArn or inline credentials, not both')
  .refine((c) => !(c.secretArn && c.tls), { message: 'with secretArn, put tls in the secret\'s JSON ({"uri", "token", "tls": {"caCert"}})', path: ['tls'] })
  .refine((c) => !(c.tls && /^http:\/\//i.test(c.uri)), { message: 'tls needs a TLS uri: https://host[:port] (http:// means no TLS)', path: ['tls'] });
export type ClusterConnection = z.infer<typeof ClusterConnection>;

/** What a step needs to connect: resolved from the credential store at run time, never persisted on the job. */
export interface ClusterCredentials {
  uri: string;
  token?: string;
  username?: string;
  password?: string;
  /** A private CA (PEM) and a server name override; https:// (or a bare host:port with a CA) means TLS. */
  tls?: { caCert?: string; serverName?: string };
}

/** The credentials a connection carries, without secretArn and empty fields: what a store keeps. */
export function credentialsOf(connection: Omit<ClusterConnection, 'secretArn'>): ClusterCredentials {
  const { uri, token, username, password, tls } = connection;
  const cleanTls = tls && (tls.caCert || tls.serverName) ? { ...(tls.caCert ? { caCert: tls.caCert } : {}), ...(tls.serverName ? { serverName: tls.serverName } : {}) } : undefined;
  return { uri, ...(token ? { token } : {}), ...(username ? { username } : {}), ...(password ? { password } : {}), ...(cleanTls ? { tls: cleanTls } : {}) };
}

/** The uri without any user:password@ part, safe to store and show. */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z]+:\/\/)?[^@/]*@/i, '$1');
}

/**
 * Any text with every `user:password@` (or `token@`) in front of a host removed: for error messages
 * of Milvus and gRPC, which may quote the address they dialled. `scheme://user:pw@host` and a bare
 * `user:pw@host:port` both lose their credentials.
 */
export function redactUrisIn(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/?#'"]*@/gi, '$1')
    .replace(/(^|[\s'"(=<[,])[^\s@/?#'"(=<[,]+:[^\s/?#'"]*@(?=[^\s@/'"]+:\d+)/g, '$1');
}
