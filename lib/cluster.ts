import { z } from 'zod';

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
      .refine((u) => /^(https?:\/\/)?[^\s/?#]+(:\d+)?\/?$/.test(u), 'uri must be host:port or http(s)://host[:port]'),
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
