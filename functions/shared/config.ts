/**
 * Configuration is read once per handler (at cold start), validated with zod, and fails fast with a
 * message naming the bad variable. Handlers never default a required resource name.
 */
import * as z from 'zod/mini';

export class ConfigError extends Error {
  readonly variables: string[];
  constructor(message: string, variables: string[], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
    this.variables = variables;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Parses `env` with an object schema whose keys are environment variable names. */
export function readConfig<S extends z.ZodMiniObject>(schema: S, env: Env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '?');
    const value = env[name];
    // A missing variable reads better as "required" than as zod's type message.
    const text = value === undefined ? 'is required (not set)' : issue.message;
    return { name, text: `${name}: ${text}` };
  });
  throw new ConfigError(
    `invalid configuration: ${problems.map((p) => p.text).join('; ')}`,
    problems.map((p) => p.name),
  );
}

/** A required non-empty string, such as a table name. */
export const required = () => z.string().check(z.trim(), z.minLength(1, 'is required'));

/** A decimal number in a string ("0.02"), kept as its string so money code can use it exactly. */
export const decimalString = (fallback: string) =>
  z._default(z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal number')), fallback);

/** A positive integer in a string. */
export const intString = (fallback: number) =>
  z.pipe(
    z._default(z.string().check(z.regex(/^\d+$/, 'must be a whole number')), String(fallback)),
    z.transform((s: string) => Number(s)),
  );

export const optionalUrl = () => z.optional(z.string().check(z.url('must be a URL')));
