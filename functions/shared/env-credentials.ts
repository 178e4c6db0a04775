/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles (lib/bundling.ts aliases it
 * here). Lambda always puts the execution role's credentials in the environment
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the default chain's other
 * links (SSO, INI profiles, credential processes, web identity, ECS/EC2 metadata) never answer there,
 * yet they and the STS/SSO clients they carry made up ~120 KB of every bundle. Only the bundles use
 * this: the sandbox, tests and CLIs run from source with the SDK's full chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';

/** Same signature as the SDK's `defaultProvider`: every client's runtime config calls it. */
export const defaultProvider = (init: Parameters<typeof fromEnv>[0] = {}): ReturnType<typeof fromEnv> =>
  fromEnv(init);
