import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnStage,
  HttpApi,
  HttpMethod,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { RouteDef } from '../topology.ts';

export interface PaymentsApiProps {
  /** Stage-wide throttling. */
  readonly defaultThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * How long access logs are kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly accessLogRetention?: RetentionDays;
}

/** The fields of one access log line: who called what and how it went; never headers or bodies. */
const accessLogFields = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  caller: '$context.identity.caller',
  user: '$context.identity.userArn',
  requestTime: '$context.requestTime',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationError: '$context.integrationErrorMessage',
  integrationLatency: '$context.integrationLatency',
  authorizerError: '$context.authorizer.error',
};

/**
 * The HTTP API (payload format 2.0, no CORS: no browser calls it) with a `$default` stage that throttles
 * and writes JSON access logs. Routes are added with `addRoute`, which also records per-route throttling
 * in the stage's `RouteSettings` (keyed by route key, e.g. `POST /callbacks/stripe`).
 */
export class PaymentsApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  private readonly routeSettings: Record<string, Record<string, unknown>> = {};
  private readonly integrations = new Map<IFunction, HttpLambdaIntegration>();
  private readonly iamAuthorizer = new HttpIamAuthorizer();

  constructor(scope: Construct, id: string, props: PaymentsApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'api', {
      description: 'Daigou payments: gateway callbacks and orders',
      createDefaultStage: false,
    });
    this.accessLogs = new LogGroup(this, 'access-logs', {
      retention: props.accessLogRetention ?? RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage = new HttpStage(this, 'default-stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.defaultThrottle.rateLimit, burstLimit: props.defaultThrottle.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(accessLogFields)),
      },
    });
    const cfnStage = this.stage.node.defaultChild as CfnStage;
    // Resolved at synth time, after every route has been added.
    cfnStage.routeSettings = this.routeSettings;
  }

  /** The stage URL (`https://{id}.execute-api.{region}.amazonaws.com/`). */
  get url(): string {
    return this.stage.url;
  }

  /**
   * Adds a route to `handler`. `auth: 'iam'` routes need SigV4-signed requests; `auth: 'none'` routes
   * (callbacks, health) are public and authenticate by the gateway's signature in the handler.
   * `detailedMetrics` turns on route-level CloudWatch metrics (`Method`/`Resource` dimensions).
   */
  addRoute(def: RouteDef, handler: IFunction, options: { detailedMetrics?: boolean } = {}): HttpRoute {
    const routeKey = `${def.method} ${def.path}`;
    const route = new HttpRoute(this, `route-${routeId(def)}`, {
      httpApi: this.api,
      routeKey: HttpRouteKey.with(def.path, HttpMethod[def.method]),
      integration: this.integrationFor(handler),
      authorizer: def.auth === 'iam' ? this.iamAuthorizer : undefined,
    });
    if (def.throttle || options.detailedMetrics) {
      this.routeSettings[routeKey] = {
        ...(def.throttle && {
          ThrottlingRateLimit: def.throttle.rateLimit,
          ThrottlingBurstLimit: def.throttle.burstLimit,
        }),
        // Route-level 4xx/5xx/Count (custom-metric cost), for per-route 5xx-rate alarms.
        ...(options.detailedMetrics && { DetailedMetricsEnabled: true }),
      };
      // Route settings name a route key that must exist when the stage is updated.
      this.stage.node.addDependency(route);
    }
    return route;
  }

  /** One integration (and one Lambda permission) per function, however many routes point at it. */
  private integrationFor(handler: IFunction): HttpLambdaIntegration {
    let integration = this.integrations.get(handler);
    if (!integration) {
      integration = new HttpLambdaIntegration(
        `${handler.node.scope?.node.id ?? handler.node.id}-integration`,
        handler,
      );
      this.integrations.set(handler, integration);
    }
    return integration;
  }
}

function routeId(def: RouteDef): string {
  const path = def.path
    .replace(/[{}]/g, '')
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return `${def.method.toLowerCase()}-${path || 'root'}`;
}
