// `make models`: copy the face model files named in models/manifest.json from node_modules into
// models/files and verify them. `--update-manifest` rewrites the manifest from node_modules (after
// an upgrade of @vladmandic/human or @vladmandic/face-api; review the diff before committing).
import { errorMessage } from '../../core/errors.js';
import { defaultManifestPath, defaultModelsDir, installModels, manifestFromNodeModules, readModelManifest, writeModelManifest } from './models.js';

function main(argv: string[]): number {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const manifestPath = arg('--manifest') ?? defaultManifestPath;
  const dest = arg('--dest') ?? defaultModelsDir;
  try {
    if (argv.includes('--update-manifest')) {
      writeModelManifest(manifestFromNodeModules(), manifestPath);
      console.log(`wrote ${manifestPath}`);
    }
    const files = installModels(readModelManifest(manifestPath), dest);
    console.log(`face models: ${files.length} files installed and verified in ${dest}`);
    return 0;
  } catch (err) {
    console.error(`face models: ${errorMessage(err)}`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));
