/** Request bodies of the orders API, validated at the edge; unknown keys are rejected (a typo must not pass). */
import * as z from 'zod/mini';

const sku = z.string().check(z.trim(), z.minLength(1), z.maxLength(64));
const positiveInt = (max: number) => z.int().check(z.positive(), z.lte(max));

export const CreateOrderBody = z.strictObject({
  customerId: z.string().check(z.trim(), z.minLength(1), z.maxLength(128)),
  payCurrency: z.string().check(z.regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as "USD"')),
  items: z
    .array(
      z.strictObject({
        sku,
        title: z.optional(z.string().check(z.maxLength(200))),
        quantity: positiveInt(1_000_000),
        unitPriceMinor: positiveInt(Number.MAX_SAFE_INTEGER),
      }),
    )
    // 100 lines keep the order item far below DynamoDB's 400 KB.
    .check(
      z.minLength(1),
      z.maxLength(100),
      z.refine((items) => new Set(items.map((i) => i.sku)).size === items.length, {
        message: 'each sku may appear once (refunds by item are per sku)',
      }),
    ),
});
export type CreateOrderBody = z.infer<typeof CreateOrderBody>;

export const CreateRefundBody = z
  .strictObject({
    items: z.optional(
      z
        .array(z.strictObject({ sku, quantity: positiveInt(1_000_000) }))
        .check(z.minLength(1), z.maxLength(100)),
    ),
    baseAmountMinor: z.optional(positiveInt(Number.MAX_SAFE_INTEGER)),
  })
  .check(
    z.refine((b) => (b.items === undefined) !== (b.baseAmountMinor === undefined), {
      message: 'give exactly one of items or baseAmountMinor',
    }),
  );
export type CreateRefundBody = z.infer<typeof CreateRefundBody>;

export interface ValidationDetail {
  readonly path: string;
  readonly message: string;
}

/** zod/mini ships no English messages (bundle size): say what is wrong from the issue itself. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): ValidationDetail[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: describe(issue) }));
}

function describe(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'int'
        ? 'must be an integer'
        : `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${issue.minimum} item(s)`;
      if (issue.origin === 'string') return 'must not be empty';
      return issue.inclusive ? `must be at least ${issue.minimum}` : `must be greater than ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${issue.maximum} items`;
      if (issue.origin === 'string') return `must have at most ${issue.maximum} characters`;
      return `must be at most ${issue.maximum}`;
    case 'unrecognized_keys':
      return `unknown key(s): ${issue.keys.join(', ')}`;
    default:
      return issue.message && issue.message !== 'Invalid input' ? issue.message : 'is invalid';
  }
}
