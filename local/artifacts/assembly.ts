import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CfnTemplate } from '../../infra/synth';
import { MIGRATION_STACK_ID } from '../../infra/migrationStack';
import { cacheDir as defaultCacheDir, repoRoot, sourceHash } from '../sourceHash';

/**
 * A cloud assembly: the folder `cdk synth --output DIR` writes, holding the stack's template and
 * one bundled asset directory per Lambda function. It is what `cdk deploy` uploads, so it is what
 * the artifact mode runs.
 */
export interface CloudAssembly {
  dir: string;
  template: CfnTemplate;
  /** The asset directory of a function's code, from its `aws:asset:path` metadata. */
  assetDir(functionLogicalId: string): string;
}

export function readAssembly(dir: string): CloudAssembly {
  const templateFile = join(dir, `${MIGRATION_STACK_ID}.template.json`);
  if (!existsSync(templateFile)) throw new Error(`${dir} is not a cdk synth output folder of this app: ${MIGRATION_STACK_ID}.template.json is missing (run npx cdk synth --output ${dir})`);
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate;
  return {
    dir,
    template,
    assetDir(functionLogicalId) {
      const resource = template.Resources[functionLogicalId] as { Metadata?: Record<string, unknown> } | undefined;
      const assetPath = resource?.Metadata?.['aws:asset:path'];
      if (typeof assetPath !== 'string') throw new Error(`function ${functionLogicalId} has no asset in ${dir}: synthesize with bundling (npx cdk synth --output ${dir})`);
      const assetDir = join(dir, assetPath);
      if (!existsSync(join(assetDir, 'index.mjs'))) throw new Error(`the asset of ${functionLogicalId} (${assetDir}) holds no index.mjs`);
      return assetDir;
    },
  };
}

/** What the assets are built from: a change to any of these makes a new assembly. */
const SOURCES = ['lib', 'functions', 'infra', 'package-lock.json', 'package.json', 'cdk.json', 'tsconfig.json'];

/**
 * Synthesizes the app with the CDK CLI, as a user deploying it would (`npx cdk synth --output`),
 * into a folder named after the hash of its sources, and reuses that folder while they are
 * unchanged: a bundling synth takes about 30 s of CPU.
 */
export async function synthesizeAssembly(options: { context?: Record<string, string>; cacheDir?: string } = {}): Promise<CloudAssembly> {
  const { context = {}, cacheDir = defaultCacheDir } = options;
  const contextArgs = Object.entries(context).flatMap(([key, value]) => ['--context', `${key}=${value}`]);
  const dir = join(cacheDir, `cdk.out-${sourceHash(SOURCES, contextArgs)}`);
  if (existsSync(join(dir, `${MIGRATION_STACK_ID}.template.json`))) return readAssembly(dir);
  mkdirSync(cacheDir, { recursive: true });
  // Written aside and renamed, so a synth that dies half way never looks finished to the next run.
  const building = `${dir}.${process.pid}.building`;
  rmSync(building, { recursive: true, force: true });
  await promisify(execFile)('npx', ['cdk', 'synth', '--output', building, '--quiet', '--no-notices', ...contextArgs], {
    cwd: repoRoot,
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true' },
    maxBuffer: 64 * 1024 * 1024,
  });
  try {
    renameSync(building, dir);
  } catch (error) {
    // Another process finished the same synth first.
    if (!existsSync(dir)) throw error;
    rmSync(building, { recursive: true, force: true });
  }
  return readAssembly(dir);
}
