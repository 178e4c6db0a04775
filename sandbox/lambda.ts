/**
 * Runs a handler as Lambda would: loads the function's `app.ts` factory with the function's own
 * environment (so each function reads its configuration once, at "cold start"), and invokes it with a
 * Lambda-like context whose `getRemainingTimeInMillis` counts down from the configured timeout.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import type { FunctionDef } from '../lib/topology.ts';

export type Handler = (event: unknown, context: Context) => Promise<unknown>;

export interface HandlerModule {
  createHandler(env: Record<string, string | undefined>): Handler;
}

export function lambdaContext(name: string, def: Pick<FunctionDef, 'memoryMb' | 'timeoutSeconds'>): Context {
  const deadline = Date.now() + def.timeoutSeconds * 1000;
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: String(def.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `sandbox/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** The sandbox loads `app.ts` next to the Lambda entry: it exports `createHandler(env)`. */
export function appModulePath(root: string, def: FunctionDef): string {
  return path.join(root, path.dirname(def.entry), 'app.ts');
}

export async function loadFunction(
  root: string,
  name: string,
  def: FunctionDef,
  env: Record<string, string | undefined>,
): Promise<(event: unknown) => Promise<unknown>> {
  const mod = (await import(pathToFileURL(appModulePath(root, def)).href)) as HandlerModule;
  const handler = mod.createHandler(env);
  return (event) => handler(event, lambdaContext(name, def));
}
