#!/usr/bin/env node
// Entry point for `npx wsi`. Runs the compiled JavaScript in dist/ (built by `make setup`) when it is fresh,
// that is when no source it was built from has changed since; otherwise registers tsx and runs the TypeScript
// sources, so edited code never runs stale and no build step is ever required.
// WSI_DEBUG_BUILD=1 says on stderr which of the two ran and why; WSI_FROM_SOURCE=1 forces the sources.
import { checkBuild } from './fresh-build.mjs';

const argv = process.argv.slice(2);
// The same command name cli.ts's main() will see: freshness is checked for what that run loads.
const name = argv.find((a) => a !== '--debug');
const build = checkBuild(
  !name || ['--help', '-h', 'help'].includes(name) ? { help: true } : { command: name },
);
if (process.env.WSI_DEBUG_BUILD === '1') {
  process.stderr.write(
    build.fresh
      ? `wsi: compiled build ${build.dir} (${build.sources} sources unchanged)\n`
      : `wsi: TypeScript sources through tsx (${build.reason})\n`,
  );
}

let cli;
if (build.fresh) {
  // Stack traces (--debug) point into the TypeScript sources through the build's source maps.
  if (argv.includes('--debug')) process.setSourceMapsEnabled(true);
  cli = await import(build.entryUrl);
} else {
  if (process.stderr.isTTY && build.reason !== 'WSI_FROM_SOURCE=1') {
    process.stderr.write(
      `wsi: running the TypeScript sources (slower start): ${build.reason}; make setup compiles\n`,
    );
  }
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../pipeline/cli.ts');
}
process.exitCode = await cli.main(argv, cli.commands);
