// `node --import ./tests/helpers/record-imports.mjs …` appends the URL of every ES module the process
// resolves (its own and node_modules' entry points) to the file named by WSI_RECORD_IMPORTS, one per line.
// Tests use it to check what a command loads, without timing anything.
import { register } from 'node:module';

const file = process.env.WSI_RECORD_IMPORTS;
if (file) register('./record-imports-hooks.mjs', import.meta.url, { data: { file } });
