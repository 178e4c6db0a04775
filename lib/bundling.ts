/**
 * How every function is bundled: shared by the CDK constructs (NodejsFunction) and `npm run bench`
 * (which measures the bundles' size and module-init time), so the numbers are about what ships.
 */
import { fileURLToPath } from 'node:url';

/**
 * Credentials from the environment only. Every AWS SDK client's runtime config imports the default
 * credential-provider chain from `@aws-sdk/credential-provider-node`; in Lambda the execution role's
 * credentials are always in the environment, so the chain's SSO, INI, process, web-identity and
 * metadata links (and the STS/SSO/sign-in clients they bundle) are dead weight: ~120 KB and ~15 ms of
 * every cold start (measured with `npm run bench`). test/integration/bundle-credentials.test.ts proves
 * a bundled function signs with `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` and
 * with nothing else.
 */
export const envCredentialsAlias: Record<string, string> = {
  '@aws-sdk/credential-provider-node': fileURLToPath(
    new URL('../functions/shared/env-credentials.ts', import.meta.url),
  ),
};

/**
 * No event-stream codec: no function uses an event-stream operation, but the SDK's protocol layer
 * `import()`s the codec, which esbuild then bundles whole (~15 KB per bundle). See
 * functions/shared/no-event-streams.ts.
 */
export const noEventStreamsAlias: Record<string, string> = {
  '@smithy/core/event-streams': fileURLToPath(
    new URL('../functions/shared/no-event-streams.ts', import.meta.url),
  ),
};

export const bundlingOptions: {
  format: 'esm';
  platform: 'node';
  target: string;
  mainFields: string[];
  minify: boolean;
  keepNames: boolean;
  sourcemap: 'external';
  banner: { js: string };
  alias: Record<string, string>;
} = {
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Without `module` first the AWS SDK's CJS build is chosen and the ESM bundle dies with
  // `Dynamic require of "node:https"` (a createRequire banner also works but costs ~200 KB and ~40 ms).
  mainFields: ['module', 'main'],
  minify: true,
  // Not `keepNames`: it wraps every function and class in a `__name()` call, ~26 KB per bundle. Error
  // classes are told apart by `name` in logs and alarms, so each sets `this.name` itself (STYLE rule 5;
  // test/infra/bundles.test.ts checks every one).
  keepNames: false,
  sourcemap: 'external',
  // A CommonJS dependency that `require`s a Node built-in dies in an ESM bundle without a `require` in
  // scope ("Dynamic require of "util" is not supported"); none is bundled today (the X-Ray SDK was),
  // and this line costs nothing, so a future one starts instead of failing at cold start.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  alias: { ...envCredentialsAlias, ...noEventStreamsAlias },
};

/** The same options as esbuild command-line arguments, for CDK's `NodejsFunction` `esbuildArgs`. */
export function esbuildAliasArgs(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(bundlingOptions.alias).map(([from, to]) => [`--alias:${from}`, to]),
  );
}
