#!/usr/bin/env node
/** The `medfl` binary (`dist/cli.js`): runs {@link main} of `./cli/index` with the process's arguments. */
import { main } from './cli/index';

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}
