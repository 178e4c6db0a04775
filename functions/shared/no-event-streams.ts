/**
 * Stands in for `@smithy/core/event-streams` in the Lambda bundles (lib/bundling.ts aliases it here).
 * No function calls an event-stream operation (S3 SelectObjectContent, Bedrock streaming, …), yet the
 * SDK's HTTP protocol loads the codec through a dynamic `import()`, which esbuild bundles whole:
 * ~15 KB of every bundle. The S3 client's constructor still resolves its event-stream configuration,
 * so that part is kept; using an event stream fails loudly instead of silently.
 */

class EventStreamsNotBundledError extends Error {
  constructor() {
    super('event-stream operations are not bundled into this function (see lib/bundling.ts)');
    this.name = 'EventStreamsNotBundledError';
  }
}

const unsupported = () => {
  throw new EventStreamsNotBundledError();
};

/** The S3 client's config hook: the marshaller it builds is only used by event-stream operations. */
export const eventStreamSerdeProvider = () => ({ serialize: unsupported, deserialize: unsupported });

/** Same as the SDK's: `eventStreamMarshaller` from the configured provider. */
export const resolveEventStreamSerdeConfig = <T extends { eventStreamSerdeProvider: (input: T) => unknown }>(
  input: T,
) => Object.assign(input, { eventStreamMarshaller: input.eventStreamSerdeProvider(input) });

/** Loaded by the protocol only for an operation with an event stream. */
export class EventStreamSerde {
  constructor() {
    unsupported();
  }
}
