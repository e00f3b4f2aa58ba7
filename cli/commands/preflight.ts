import { CreateMigrationBody, parseRequest } from '../../lib/api/requests';
import { credentialsOf } from '../../lib/cluster';
import type { PreflightReport } from '../../lib/migration/inspect';
import { apiClientFrom, type ApiFlags } from '../apiOptions';
import { requestBodyFromFlags, type RequestFlags } from '../requestOptions';

export interface PreflightFlags extends RequestFlags, ApiFlags {
  /** Ask this API (`serve` or the deployed one) instead of checking from this machine. */
  api?: string;
  json?: boolean;
}

/**
 * `milvus-migrate preflight`: what a migration with these flags would do and meet, without writing
 * anything anywhere. Exit code 0 when it would pass Preflight, 1 when not (reasons printed).
 */
export async function preflightCommand(flags: PreflightFlags): Promise<number> {
  const body = requestBodyFromFlags(flags);
  let report: PreflightReport;
  if (flags.api) {
    report = (await apiClientFrom(flags).preflight(body)) as PreflightReport;
  } else {
    const { inspectMigration, PREFLIGHT_TIMEOUT_MS } = await import('../../lib/migration/inspect');
    const { openCluster } = await import('../../lib/milvus');
    const request = parseRequest(CreateMigrationBody, body, 'body');
    const credentials = (c: typeof request.source) => {
      if (c.secretArn) throw new Error('secretArn needs the deployed API: pass --api');
      return credentialsOf(c);
    };
    report = await inspectMigration(
      { databases: request.databases, options: request.options },
      { source: credentials(request.source), target: credentials(request.target) },
      (c) => openCluster(c, { timeoutMs: PREFLIGHT_TIMEOUT_MS }),
    );
  }
  process.stdout.write(`${flags.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
  return report.ok ? 0 : 1;
}

export function formatReport(report: PreflightReport): string {
  const cluster = (role: string, c: PreflightReport['source']) =>
    `${role} ${c.uri}: ${c.reachable ? `reachable${c.version ? `, Milvus ${c.version}` : ''}` : `NOT reachable (${c.reason})`}`;
  const lines = [cluster('source', report.source), cluster('target', report.target)];
  if (report.target.databasesToCreate.length > 0) lines.push(`databases to create on the target: ${report.target.databasesToCreate.join(', ')}`);
  for (const c of report.collections) {
    lines.push(`  ${c.source} -> ${c.target}: ${c.action}, ${c.rows} row(s), ~${(c.estimatedBytes / 1024 / 1024).toFixed(1)} MiB`);
    for (const w of c.warnings) lines.push(`    warning: ${w}`);
  }
  for (const p of report.problems) lines.push(`problem ${p.code}: ${p.message}`);
  if (report.estimate) {
    const e = report.estimate;
    lines.push(`estimate: ${e.rows} row(s) in ${e.shards} shard(s), about ${Math.ceil(e.durationSeconds / 60)} min, AWS about $${e.costUsd.total.toFixed(4)} (Lambda $${e.costUsd.lambda}, Step Functions $${e.costUsd.stepFunctions}, DynamoDB $${e.costUsd.dynamoDb})`);
    for (const a of e.assumptions) lines.push(`  assuming ${a}`);
  }
  lines.push(report.ok ? 'preflight passed: nothing was written' : 'preflight found problems: nothing was written');
  return lines.join('\n');
}
