'use strict';
/**
 * @dealwire/client — the Node.js client of Dealwire.
 *
 *   const { Client, Conflict } = require('@dealwire/client');
 *   const client = new Client(process.env.DEALWIRE_SERVER || '127.0.0.1:50051');
 *
 * See README.md.
 */

const { Client } = require('./client');
const { Subscription } = require('./subscription');
const errors = require('./errors');
const convert = require('./convert');
const protos = require('./protos');

module.exports = {
  Client,
  Subscription,
  ...errors,
  fromCanonicalJson: convert.fromCanonicalJson,
  toExpectedVersion: convert.toExpectedVersion,
  toAsOf: convert.toAsOf,
  toDate: convert.toDate,
  toTimestamp: convert.toTimestamp,
  timestampToDate: convert.timestampToDate,
  loadDealwire: protos.loadDealwire,
  defaultProtoDir: protos.defaultProtoDir,
  LOADER_OPTIONS: protos.LOADER_OPTIONS,
};
