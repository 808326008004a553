'use strict';
/**
 * Loads the Dealwire contract (proto/dealwire/v1/*.proto) at run time with
 * @grpc/proto-loader, so no generated JavaScript is needed.
 *
 * Options: field names in lowerCamelCase (keepCase false), 64-bit integers as
 * decimal strings, enums as their value names, defaults filled in, and the
 * case name of every oneof set as a virtual field (e.g. `payload.payload ===
 * 'investmentReported'`, `message.message === 'caughtUp'`). These are the
 * options the types in generated/ (proto-loader-gen-types) describe.
 *
 *   const { loadDealwire } = require('@dealwire/client/src/protos');
 *   const { packageDefinition, grpcObject } = loadDealwire();
 */

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

/** Options shared by the loader and proto-loader-gen-types (package.json "gen"). */
const LOADER_OPTIONS = Object.freeze({
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});

const PROTO_FILES = [
  'dealwire/v1/event_store.proto',
  'dealwire/v1/market_intel.proto',
  'dealwire/v1/admin.proto',
];

/**
 * Returns the directory holding dealwire/v1/*.proto: $DEALWIRE_PROTO_DIR, or
 * the repository's proto/ (two levels above this package).
 * @returns {string}
 */
function defaultProtoDir() {
  if (process.env.DEALWIRE_PROTO_DIR) return process.env.DEALWIRE_PROTO_DIR;
  return path.resolve(__dirname, '..', '..', '..', 'proto');
}

/** @type {Map<string, {packageDefinition: import('@grpc/proto-loader').PackageDefinition, grpcObject: any}>} */
const cache = new Map();

/**
 * Loads (once per directory) the Dealwire protos.
 * @param {string} [protoDir] directory holding dealwire/v1/*.proto
 * @returns {{packageDefinition: import('@grpc/proto-loader').PackageDefinition, grpcObject: any}}
 * @throws {Error} when the directory does not hold the protos
 */
function loadDealwire(protoDir = defaultProtoDir()) {
  const dir = path.resolve(protoDir);
  let loaded = cache.get(dir);
  if (!loaded) {
    if (!fs.existsSync(path.join(dir, PROTO_FILES[0]))) {
      throw new Error(`no ${PROTO_FILES[0]} under ${dir} (set DEALWIRE_PROTO_DIR or pass protoDir)`);
    }
    const packageDefinition = protoLoader.loadSync(PROTO_FILES, { ...LOADER_OPTIONS, includeDirs: [dir] });
    loaded = { packageDefinition, grpcObject: grpc.loadPackageDefinition(packageDefinition) };
    cache.set(dir, loaded);
  }
  return loaded;
}

module.exports = { LOADER_OPTIONS, PROTO_FILES, defaultProtoDir, loadDealwire };
