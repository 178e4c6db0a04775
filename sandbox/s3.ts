/**
 * s3rver on 127.0.0.1 with the settlements bucket, and S3 ObjectCreated notifications turned into the
 * S3 event AWS would deliver (object key URL-encoded, spaces as "+").
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { S3Event } from 'aws-lambda';
import S3rver from 's3rver';
import { assertPortFree } from './ports.ts';

export interface S3Local {
  readonly endpoint: string;
  /** Called for every ObjectCreated record, with the key encoded as AWS encodes it. */
  onObjectCreated(listener: (event: S3Event) => void): void;
  stop(): Promise<void>;
}

/** AWS URL-encodes object keys in event notifications (form encoding: space → "+"), keeping "/". */
export function encodeS3EventKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');
}

export async function startS3Local(options: {
  port: number;
  dataDir?: string;
  bucket: string;
}): Promise<S3Local> {
  await assertPortFree(options.port, 'S3_PORT', 's3rver');
  const temporary = options.dataDir ? undefined : mkdtempSync(path.join(tmpdir(), 'daigou-s3-'));
  const directory = options.dataDir ?? temporary!;
  mkdirSync(directory, { recursive: true });
  const server = new S3rver({
    port: options.port,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: [{ name: options.bucket, configs: [] }],
  });
  await server.run();
  const listeners: ((event: S3Event) => void)[] = [];
  server.on('event', (raw: S3Event) => {
    for (const record of raw.Records) {
      if (!record.eventName.startsWith('ObjectCreated')) continue;
      const event: S3Event = {
        Records: [
          {
            ...record,
            eventSource: 'aws:s3',
            s3: {
              ...record.s3,
              object: { ...record.s3.object, key: encodeS3EventKey(record.s3.object.key) },
            },
          },
        ],
      };
      for (const listener of listeners) listener(event);
    }
  });
  return {
    endpoint: `http://127.0.0.1:${options.port}`,
    onObjectCreated: (listener) => listeners.push(listener),
    stop: async () => {
      await server.close();
      if (temporary) rmSync(temporary, { recursive: true, force: true });
    },
  };
}
