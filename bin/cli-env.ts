/**
 * Imported first by every command-line entry point, before anything that builds an AWS SDK client:
 * ES module imports run before the importing module's own code, so setting these in the entry point's
 * body is too late for a client created while its imports load, and the SDK's Node-version notice
 * then lands in the middle of the command's output.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
