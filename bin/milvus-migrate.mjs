#!/usr/bin/env node
// The CLI runs as compiled JavaScript, built from the TypeScript on the first start after a change
// and cached by content (bin/compiledCli.mjs), so the repository needs no build step of its own.
import { pathToFileURL } from 'node:url';
import { compiledCli } from './compiledCli.mjs';

await import(pathToFileURL(await compiledCli()).href);
