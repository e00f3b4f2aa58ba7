import * as z from 'zod';

/** `[http(s)://][user:password@]host[:port][/]`: a host name, an IPv4 or a bracketed IPv6 address. */
const CLUSTER_URI = /^(?:https?:\/\/)?(?:[^\s/?#@]+@)?(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?\/?$/;

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
  })
  .strict()
  .refine((c) => !(c.token && (c.username || c.password)), 'give either token or username/password, not both')
  .refine((c) => Boolean(c.username) === Boolean(c.password), 'username and password go together')
  .refine((c) => !(c.secretArn && (c.token || c.username)), 'give either secretArn or inline credentials, not both');
export type ClusterConnection = z.infer<typeof ClusterConnection>;

/** What a step needs to connect: resolved from the credential store at run time, never persisted on the job. */
export interface ClusterCredentials {
  uri: string;
  token?: string;
  username?: string;
  password?: string;
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
