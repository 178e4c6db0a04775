#!/usr/bin/env node
/** The CDK app (`npm run synth`, `npm run deploy`): one stack, checked by cdk-nag's AWS Solutions pack. */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { PaymentsStack } from '../lib/payments-stack.ts';

const app = new App();
const account = process.env.CDK_DEFAULT_ACCOUNT;
const region = process.env.CDK_DEFAULT_REGION;

new PaymentsStack(app, 'DaigouPayments', {
  description: 'Daigou payments: exactly-once gateway callbacks, FX-locked orders, settlement reconciliation',
  env: account || region ? { account, region } : undefined,
});

Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
