/**
 * How every function is bundled: shared by the CDK constructs (NodejsFunction) and `npm run bench`
 * (which measures the bundles' size and module-init time), so the numbers are about what ships.
 */
export const bundlingOptions: {
  format: 'esm';
  platform: 'node';
  target: string;
  mainFields: string[];
  minify: boolean;
  keepNames: boolean;
  sourcemap: 'external';
  banner: { js: string };
} = {
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // Without `module` first the AWS SDK's CJS build is chosen and the ESM bundle dies with
  // `Dynamic require of "node:https"` (a createRequire banner also works but costs ~200 KB and ~40 ms).
  mainFields: ['module', 'main'],
  minify: true,
  // Error classes are told apart by `name` in logs and alarms; minification would mangle them.
  keepNames: true,
  sourcemap: 'external',
  // aws-xray-sdk-core (under Powertools Tracer) is CommonJS and `require`s Node built-ins, which an ESM
  // bundle cannot do without a `require` in scope: "Dynamic require of "util" is not supported".
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
};
