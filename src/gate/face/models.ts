// The face models' manifest (models/manifest.json): every file the pipeline loads, where it comes
// from (an npm package at an exact version, a path inside it), its size and SHA-256. Files are
// copied from node_modules into models/files by `make models` and checked again every time the
// face pipeline starts: a missing or changed file stops face matching and is named.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SitegateError } from '../../core/errors.js';


export const modelEntrySchema = z.object({
  /** The name in models/files. */
  file: z.string().regex(/^[\w.-]+$/, 'a plain file name'),
  package: z.string().min(1),
  version: z.string().regex(/^\d+\.\d+\.\d+/, 'an exact version'),
  /** Path of the file inside the package. */
  path: z.string().min(1),
  size: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits'),
});

export const modelManifestSchema = z.object({
  version: z.literal(1),
  files: z.array(modelEntrySchema).min(1),
});

export type ModelEntry = z.infer<typeof modelEntrySchema>;
export type ModelManifest = z.infer<typeof modelManifestSchema>;

/** Every file the pipeline loads, by package and path in the package. */
export const modelSources: ReadonlyArray<{ package: string; path: string }> = [
  ...['blazeface', 'antispoof', 'liveness'].flatMap((m) => ['json', 'bin'].map((ext) => ({ package: '@vladmandic/human', path: `models/${m}.${ext}` }))),
  ...['face_landmark_68_model', 'face_recognition_model'].flatMap((m) => [
    { package: '@vladmandic/face-api', path: `model/${m}-weights_manifest.json` },
    { package: '@vladmandic/face-api', path: `model/${m}.bin` },
  ]),
];

/** The repository root (holding models/), from this file's place in src/ or dist/. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const defaultManifestPath = join(repoRoot, 'models', 'manifest.json');
export const defaultModelsDir = join(repoRoot, 'models', 'files');

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function readModelManifest(path = defaultManifestPath): ModelManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SitegateError('face_manifest_unreadable', `cannot read the face model manifest ${path}: ${(err as Error).message}`);
  }
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SitegateError('face_manifest_invalid', `face model manifest ${path} is invalid at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The installed package's folder (read from the node_modules folders Node would search; some packages export no package.json). */
function packageDir(pkg: string, fromDir: string): string {
  const req = createRequire(join(fromDir, 'package.json'));
  for (const nm of req.resolve.paths(pkg) ?? []) {
    if (existsSync(join(nm, pkg, 'package.json'))) return join(nm, pkg);
  }
  throw new SitegateError('face_model_package', `package ${pkg} is not installed under ${fromDir} (run \`make deps\`)`);
}

/** A manifest describing the model files as installed in node_modules now (for a package upgrade). */
export function manifestFromNodeModules(fromDir = repoRoot): ModelManifest {
  return {
    version: 1,
    files: modelSources.map((s) => {
      const dir = packageDir(s.package, fromDir);
      const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
      const p = join(dir, s.path);
      return { file: basename(s.path), package: s.package, version, path: s.path, size: statSync(p).size, sha256: sha256File(p) };
    }),
  };
}

/** Checks one file against its entry; the error names the file and what is wrong. */
export function checkModelFile(dir: string, entry: ModelEntry): void {
  const p = join(dir, entry.file);
  if (!existsSync(p)) {
    throw new SitegateError('face_model_missing', `face model file ${entry.file} is missing from ${dir} (run \`make models\`)`, { file: entry.file });
  }
  const size = statSync(p).size;
  const sha = sha256File(p);
  if (size !== entry.size || sha !== entry.sha256) {
    throw new SitegateError(
      'face_model_mismatch',
      `face model file ${entry.file} does not match the manifest (${entry.package}@${entry.version} ${entry.path}): size ${size} vs ${entry.size}, sha256 ${sha.slice(0, 12)}… vs ${entry.sha256.slice(0, 12)}…`,
      { file: entry.file },
    );
  }
}

/** Every file of the manifest present in `dir` with its size and SHA-256; throws on the first that is not. */
export function verifyModels(manifest: ModelManifest, dir = defaultModelsDir): void {
  for (const entry of manifest.files) checkModelFile(dir, entry);
}

/**
 * Copies each manifest file from its package in node_modules into `dir` and verifies the copy.
 * A package at another version than the manifest's is refused before anything is copied.
 */
export function installModels(manifest: ModelManifest, dir = defaultModelsDir, fromDir = repoRoot): string[] {
  const sources = manifest.files.map((entry) => {
    const pkgDir = packageDir(entry.package, fromDir);
    const version = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
    if (version !== entry.version) {
      throw new SitegateError('face_model_version', `face model file ${entry.file}: the manifest wants ${entry.package}@${entry.version}, node_modules has ${version}`, { file: entry.file });
    }
    return { entry, src: join(pkgDir, entry.path) };
  });
  mkdirSync(dir, { recursive: true });
  for (const { entry, src } of sources) {
    copyFileSync(src, join(dir, entry.file));
    checkModelFile(dir, entry);
  }
  return sources.map((s) => s.entry.file);
}

export function writeModelManifest(manifest: ModelManifest, path = defaultManifestPath): void {
  writeFileSync(path, JSON.stringify(manifest, null, 2) + '\n');
}

