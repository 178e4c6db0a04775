/**
 * Stands in for a handler file that does not exist yet in infra tests. Bundling is skipped there, so
 * nothing of this file reaches the template; NodejsFunction only needs the entry to exist.
 */
export const handler = async (): Promise<void> => {};
