import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { classArchiveLaunch } from '../../local/dynamoClassArchive';
import { startDynamoLocal } from '../../local/dynamoLocal';

// Each DynamoDB Local started here is its own JVM with its own cache folder; the suite's shared
// one (test/support/globalSetup.ts) uses the project's cache.
const cacheRoot = mkdtempSync(join(tmpdir(), 'dynamo-class-archive-'));
afterAll(() => rmSync(cacheRoot, { recursive: true, force: true }));

/** The archive files of a cache folder: `classes.<size>.jsa`. */
function archives(cacheDir: string): string[] {
  return readdirSync(cacheDir, { recursive: true, encoding: 'utf8' }).filter((name) => /classes\.\d+\.jsa$/.test(name));
}

/** Starts DynamoDB Local from this cache, asks it for its tables, stops it. */
async function startAnswerStop(cacheDir: string): Promise<void> {
  const dynamo = await startDynamoLocal({ cacheDir });
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
  } finally {
    client.destroy();
    await dynamo.stop();
  }
}

describe('DynamoDB Local with a class data sharing archive', () => {
  it('writes the archive at the first stop and maps it at the next start', async () => {
    const cacheDir = join(cacheRoot, 'fresh');
    const first = classArchiveLaunch(cacheDir)!;
    expect(first).toMatchObject({ usesArchive: false, writesArchive: true });
    // One start at a time writes: the lock is the first launch's until it is given up.
    expect(classArchiveLaunch(cacheDir)).toMatchObject({ usesArchive: false, writesArchive: false });
    first.discard();
    await startAnswerStop(cacheDir);
    expect(archives(cacheDir)).toHaveLength(1);
    const launch = classArchiveLaunch(cacheDir)!;
    expect(launch).toMatchObject({ usesArchive: true, writesArchive: false });
    expect(launch.javaArgs.join(' ')).toContain('-XX:SharedArchiveFile=');
    await startAnswerStop(cacheDir);
    expect(archives(cacheDir)).toHaveLength(1);
  });

  it('uses a folder prepared through another path (a symlinked node_modules, a moved checkout) once that path is gone', async () => {
    // The cache's parent reached through a link first (as a worktree's symlinked node_modules), then directly.
    const realParent = join(cacheRoot, 'project');
    const linkParent = join(cacheRoot, 'worktree');
    mkdirSync(realParent);
    symlinkSync(realParent, linkParent);
    const link = join(linkParent, 'cache');
    const real = join(realParent, 'cache');
    classArchiveLaunch(link)!.exited(false);
    rmSync(linkParent);
    const launch = classArchiveLaunch(real)!;
    expect(launch.writesArchive).toBe(true);
    expect(launch.javaArgs.join(' ')).not.toContain(link);
    const classPath = launch.javaArgs[launch.javaArgs.indexOf('-cp') + 1]!.split(delimiter);
    expect(classPath.filter((entry) => !existsSync(entry))).toEqual([]);
    launch.exited(false);
    // The archive is written only by a start that ran with its launch (the package's own start writes none).
    await startAnswerStop(real);
    expect(archives(real)).toHaveLength(1);
  });

  it('starts when the archive is truncated (the JVM would crash on it) or garbage', async () => {
    const cacheDir = join(cacheRoot, 'corrupt');
    await startAnswerStop(cacheDir);
    const [written] = archives(cacheDir);
    const path = join(cacheDir, written!);
    const bytes = readFileSync(path);

    // A truncated archive under a name with its new size: mapping it kills the JVM with SIGBUS,
    // then the archive is deleted and DynamoDB Local started as its package starts it.
    const half = bytes.subarray(0, bytes.length >> 1);
    rmSync(path);
    const truncated = join(cacheDir, written!.replace(/classes\.\d+\.jsa$/, `classes.${half.length}.jsa`));
    writeFileSync(truncated, half);
    expect(classArchiveLaunch(cacheDir)?.usesArchive).toBe(true);
    await startAnswerStop(cacheDir);
    expect(archives(cacheDir)).toEqual([]);

    // Garbage of the size its name says (the JVM would ignore it, and never write a new one): it
    // is deleted before the start, which writes a new archive.
    const garbage = join(cacheDir, written!);
    writeFileSync(garbage, Buffer.alloc(bytes.length, 7));
    const check = classArchiveLaunch(cacheDir)!;
    expect(check).toMatchObject({ usesArchive: false, writesArchive: true });
    check.discard();
    await startAnswerStop(cacheDir);
    const [rewritten] = archives(cacheDir);
    expect(readFileSync(join(cacheDir, rewritten!)).readUInt32LE(0)).toBe(0xf00baba8);
  });

  it('starts when the cache folder cannot be written', async () => {
    const file = join(cacheRoot, 'a-file');
    writeFileSync(file, '');
    expect(classArchiveLaunch(join(file, 'cache'))).toBeUndefined();
    await startAnswerStop(join(file, 'cache'));
  });
});
