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
};
