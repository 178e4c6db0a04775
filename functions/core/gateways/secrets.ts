/**
 * Reading a gateway's secret JSON (Secrets Manager in AWS, the sandbox locally) against its kind's schema.
 * Each gateway module declares its own schema, so a function built for one gateway carries only that one.
 */
import * as z from 'zod/mini';
import { isCurrency } from '../money.ts';
import { GatewayConfigError } from './errors.ts';
import type { GatewayKind } from './types.ts';

export const nonEmpty = z.string().check(z.minLength(1));
export const secretList = z.array(nonEmpty).check(z.minLength(1));
export const optionalCurrency = z.optional(z.string().check(z.refine(isCurrency, 'unknown currency')));

/**
 * Validates a gateway's secret (the JSON string, or an already parsed object) with its strict schema: a
 * misspelt optional key (`defaultCurency`) fails at start instead of silently falling back to a default.
 * The error names the bad fields, never their values.
 * @throws GatewayConfigError
 */
export function parseSecret<S extends z.ZodMiniType>(
  schema: S,
  kind: GatewayKind,
  secret: unknown,
  name: string = kind,
): z.infer<S> {
  let value = secret;
  if (typeof secret === 'string') {
    try {
      value = JSON.parse(secret);
    } catch {
      // The parser's message can quote the input: do not chain it as the cause.
      throw new GatewayConfigError(`secret of gateway ${name} is not JSON`, { gateway: name });
    }
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.code}`).join('; ');
    throw new GatewayConfigError(`secret of gateway ${name} (${kind}) is invalid: ${fields}`, {
      gateway: name,
    });
  }
  return result.data;
}
