'use strict';
// Stands in, inside the Lambda bundles, for a package the functions never use but a dependency
// requires at load time (infra/migrationFunctions.ts, LEFT_OUT_PACKAGES). Loading it costs nothing;
// using it fails with a message naming the package, instead of a bundle that parses hundreds of
// kilobytes of code on every cold start for nothing.
module.exports = new Proxy(
  {},
  {
    get(_target, property) {
      if (typeof property === 'symbol' || property === '__esModule') return undefined;
      throw new Error(`milvus-migrate: ${String(property)} comes from a package left out of the Lambda bundle (see LEFT_OUT_PACKAGES in infra/migrationFunctions.ts)`);
    },
  },
);
