'use strict';
/**
 * The Dealwire client: one gRPC channel to a `dealwired` server with
 * promise-returning helpers for EventStore, MarketIntel and Admin, and
 * resumable subscriptions.
 *
 *   const { Client } = require('@dealwire/client');
 *   const client = new Client('127.0.0.1:50051', { token: process.env.DEALWIRE_TOKEN });
 *   const res = await client.append('org/openai', [event], { expectedVersion: 'no_stream' });
 *   const { capTable } = await client.capTable('openai', { minPosition: res.lastPosition });
 *   for await (const e of client.subscribe({ name: 'deal-alerts', eventTypes: ['InvestmentReported'] })) { ... }
 *   client.close();
 *
 * Every helper rejects with a DealwireError subclass (see errors.js).
 * Positions, versions and amounts (64-bit integers) are decimal strings, enums
 * are value names, as the generated types in generated/ describe.
 */

const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const { loadDealwire } = require('./protos');
const { fromGrpcError, Unavailable } = require('./errors');
const { toExpectedVersion, toAsOf, toBigInt, optionalString } = require('./convert');
const { Subscription } = require('./subscription');

/**
 * @typedef {import('@dealwire/generated/dealwire/v1/Event').Event} Event
 * @typedef {import('@dealwire/generated/dealwire/v1/Event').Event__Output} EventOutput
 * @typedef {import('@dealwire/generated/dealwire/v1/AppendResponse').AppendResponse__Output} AppendResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/ReadAllResponse').ReadAllResponse__Output} ReadAllResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/ReadStreamResponse').ReadStreamResponse__Output} ReadStreamResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/SubscriptionFilter').SubscriptionFilter} SubscriptionFilter
 * @typedef {import('@dealwire/generated/dealwire/v1/NamedSubscription').NamedSubscription__Output} NamedSubscription
 * @typedef {import('@dealwire/generated/dealwire/v1/ListSubscriptionsResponse').ListSubscriptionsResponse__Output} ListSubscriptionsResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/GetCapTableResponse').GetCapTableResponse__Output} GetCapTableResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/GetPortfolioResponse').GetPortfolioResponse__Output} GetPortfolioResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/GetTimelineResponse').GetTimelineResponse__Output} GetTimelineResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/GetOrganizationResponse').GetOrganizationResponse__Output} GetOrganizationResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/ListOrganizationsResponse').ListOrganizationsResponse__Output} ListOrganizationsResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/GetDealResponse').GetDealResponse__Output} GetDealResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/ListDealsResponse').ListDealsResponse__Output} ListDealsResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/GetValuationHistoryResponse').GetValuationHistoryResponse__Output} GetValuationHistoryResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/ListPartnershipsResponse').ListPartnershipsResponse__Output} ListPartnershipsResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/GetExposureResponse').GetExposureResponse__Output} GetExposureResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/GetMarketSummaryResponse').GetMarketSummaryResponse__Output} GetMarketSummaryResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/GetStatsResponse').GetStatsResponse__Output} GetStatsResponse
 * @typedef {import('./convert').ExpectedVersionLike} ExpectedVersionLike
 * @typedef {import('./convert').AsOfOptions} AsOfOptions
 * @typedef {import('./subscription').SubscribeOptions} SubscribeOptions
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} [token] bearer token, sent as `authorization: Bearer <token>` on every call
 * @property {number} [timeoutMs] deadline of each unary call. Default: 30000
 * @property {boolean | {rootCerts?: Buffer, privateKey?: Buffer, certChain?: Buffer}} [tls]
 *   TLS (true: system roots; or PEM buffers, with a key pair for mutual TLS). Default: plaintext
 * @property {grpc.ChannelCredentials} [credentials] channel credentials; overrides `tls`
 * @property {number} [retries] how often a unary call that failed with UNAVAILABLE is retried
 *   unchanged (safe: appends are idempotent by event id). Default: 2
 * @property {string} [protoDir] directory holding dealwire/v1/*.proto. Default: the repository's proto/
 * @property {Record<string, any>} [channelOptions] extra grpc-js channel options
 */

/**
 * Per-call options of the MarketIntel helpers.
 * @typedef {object} QueryOptions
 * @property {AsOfOptions} [asOf] point in time and filters
 * @property {number | bigint | string} [minPosition] read-your-writes: wait until the projections applied it
 * @property {number} [timeoutMs] this call's deadline
 */

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Returns the paging fields of a listing request.
 * @param {{pageSize?: number, pageToken?: string}} options
 */
const paging = (options) => ({ pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? '' });

/**
 * Returns the direction and paging fields of a read request.
 * @param {{backwards?: boolean, pageSize?: number, pageToken?: string}} options
 */
const readPaging = (options) => ({
  direction: options.backwards ? 'DIRECTION_BACKWARDS' : 'DIRECTION_FORWARDS', ...paging(options),
});

/** A connection to one Dealwire server. Safe to share; close() when done. */
class Client {
  /**
   * @param {string} address host:port, e.g. '127.0.0.1:50051'
   * @param {ClientOptions} [options]
   */
  constructor(address, options = {}) {
    this.address = address;
    this.timeoutMs = options.timeoutMs ?? 30000;
    this.retries = options.retries ?? 2;
    this._token = options.token;
    const { packageDefinition, grpcObject } = loadDealwire(options.protoDir);
    /** The loaded package definition (for fromCanonicalJson and custom calls). */
    this.packageDefinition = packageDefinition;
    let credentials = options.credentials;
    if (!credentials) {
      const tls = options.tls;
      credentials = !tls ? grpc.credentials.createInsecure()
        : tls === true ? grpc.credentials.createSsl()
          : grpc.credentials.createSsl(tls.rootCerts ?? null, tls.privateKey ?? null, tls.certChain ?? null);
    }
    const channelOptions = {
      // Reconnect quickly after a server restart (grpc-js backs off up to 120 s by default).
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 5000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      ...options.channelOptions,
    };
    const v1 = grpcObject.dealwire.v1;
    /** The raw grpc-js stubs, for anything the helpers do not cover. */
    this.eventStore = new v1.EventStore(address, credentials, channelOptions);
    const channelOverride = this.eventStore.getChannel();
    this.marketIntel = new v1.MarketIntel(address, credentials, { ...channelOptions, channelOverride });
    this.admin = new v1.Admin(address, credentials, { ...channelOptions, channelOverride });
  }

  /** Closes the channel; running subscriptions end. */
  close() {
    this.eventStore.close();
  }

  /**
   * Returns the metadata of a call (the bearer token).
   * @returns {grpc.Metadata}
   */
  metadata() {
    const md = new grpc.Metadata();
    if (this._token) md.set('authorization', `Bearer ${this._token}`);
    return md;
  }

  /**
   * Calls one unary RPC, retrying UNAVAILABLE up to `retries` times.
   * @param {any} stub
   * @param {string} method
   * @param {object} request
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<any>}
   */
  async _unary(stub, method, request, options = {}) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await new Promise((resolve, reject) => {
          const deadline = Date.now() + (options.timeoutMs ?? this.timeoutMs);
          stub[method](request, this.metadata(), { deadline }, (err, res) => (err ? reject(fromGrpcError(err)) : resolve(res)));
        });
      } catch (e) {
        if (!(e instanceof Unavailable) || attempt >= this.retries) throw e;
        await sleep(100 * 2 ** attempt);
      }
    }
  }

  /**
   * Yields the items of every page, following nextPageToken.
   * @param {(pageToken: string) => Promise<any>} read resolves with one page
   * @param {string} field the page's repeated field, e.g. 'events'
   * @returns {AsyncGenerator<any>}
   */
  async* _allPages(read, field) {
    let pageToken = '';
    do {
      const page = await read(pageToken);
      yield* page[field];
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  // -------------------------------------------------------------------------
  // EventStore
  // -------------------------------------------------------------------------

  /**
   * Appends events to one stream, atomically and durably. An event without
   * `eventId` gets a random UUID (set on the object, so a retry of the same
   * objects is idempotent). Resolves with the positions; `duplicate` is true
   * when every event was stored before (nothing written, original positions).
   *
   * Rejects with Conflict (ABORTED) when expectedVersion does not hold (with
   * `actualVersion`), AlreadyExists, InvalidArgument, FailedPrecondition, ...
   *
   * @param {string} stream e.g. 'deal/amazon-openai-2026'
   * @param {Event[] | Event} events
   * @param {{expectedVersion?: ExpectedVersionLike, timeoutMs?: number}} [options]
   *   expectedVersion: a version (the last event's stream version), 'no_stream', 'exists' or 'any' (default)
   * @returns {Promise<AppendResponse>}
   */
  append(stream, events, options = {}) {
    const list = Array.isArray(events) ? events : [events];
    for (const e of list) if (!e.eventId) e.eventId = crypto.randomUUID();
    return this._unary(this.eventStore, 'Append', {
      stream,
      expectedVersion: toExpectedVersion(options.expectedVersion),
      events: list,
    }, options);
  }

  /**
   * Reads one page of the log in position order (optionally filtered).
   * @param {{fromPosition?: number|bigint|string, backwards?: boolean, pageSize?: number,
   *   pageToken?: string, filter?: SubscriptionFilter, timeoutMs?: number}} [options]
   * @returns {Promise<ReadAllResponse>} events, nextPageToken ('' at the end), lastPosition
   */
  readAll(options = {}) {
    return this._unary(this.eventStore, 'ReadAll', {
      ...readPaging(options), filter: options.filter, fromPosition: optionalString(options.fromPosition),
    }, options);
  }

  /**
   * Iterates over the log's events across pages (see readAll for options).
   * @param {Parameters<Client['readAll']>[0]} [options]
   * @returns {AsyncGenerator<EventOutput>}
   */
  async* readAllEvents(options = {}) {
    yield* this._allPages((pageToken) => this.readAll({ ...options, pageToken }), 'events');
  }

  /**
   * Reads one page of one stream in version order. Rejects with NotFound when
   * the stream has no event.
   * @param {string} stream
   * @param {{fromVersion?: number|bigint|string, backwards?: boolean, pageSize?: number,
   *   pageToken?: string, timeoutMs?: number}} [options]
   * @returns {Promise<ReadStreamResponse>} events, nextPageToken, lastStreamVersion
   */
  readStream(stream, options = {}) {
    return this._unary(this.eventStore, 'ReadStream', {
      stream, ...readPaging(options), fromVersion: optionalString(options.fromVersion),
    }, options);
  }

  /**
   * Iterates over one stream's events across pages (see readStream).
   * @param {string} stream
   * @param {Parameters<Client['readStream']>[1]} [options]
   * @returns {AsyncGenerator<EventOutput>}
   */
  async* readStreamEvents(stream, options = {}) {
    yield* this._allPages((pageToken) => this.readStream(stream, { ...options, pageToken }), 'events');
  }

  /**
   * Returns the position of the last event in the log (0 when empty).
   * @returns {Promise<bigint>}
   */
  async lastPosition() {
    const page = await this.readAll({ backwards: true, pageSize: 1 });
    return toBigInt(page.lastPosition);
  }

  /**
   * Follows the log: an async iterator of events (catch-up, then live) that
   * reconnects on UNAVAILABLE and resumes after the last delivered event, and
   * for a named subscription commits its checkpoint periodically and when the
   * loop ends. See Subscription.
   *
   *   for await (const event of client.subscribe({ name: 'deals', eventTypes: ['InvestmentReported'] })) {}
   *
   * @param {SubscribeOptions} [options]
   * @returns {Subscription}
   */
  subscribe(options = {}) {
    return new Subscription(this, options);
  }

  /**
   * Stores a named subscription's checkpoint (it resumes after it).
   * @param {string} name
   * @param {number|bigint|string} position
   * @returns {Promise<NamedSubscription>}
   */
  async commitCheckpoint(name, position, options = {}) {
    const res = await this._unary(this.eventStore, 'CommitCheckpoint',
      { subscriptionName: name, position: String(position) }, options);
    return res.subscription;
  }

  /**
   * Lists named subscriptions, one page.
   * @param {{pageSize?: number, pageToken?: string, timeoutMs?: number}} [options]
   * @returns {Promise<ListSubscriptionsResponse>}
   */
  listSubscriptions(options = {}) {
    return this._unary(this.eventStore, 'ListSubscriptions', paging(options), options);
  }

  /**
   * Deletes a named subscription (NotFound when there is none).
   * @param {string} name
   * @returns {Promise<void>}
   */
  async deleteSubscription(name, options = {}) {
    await this._unary(this.eventStore, 'DeleteSubscription', { name }, options);
  }

  // -------------------------------------------------------------------------
  // MarketIntel
  // -------------------------------------------------------------------------

  /**
   * @param {string} method
   * @param {object} fields
   * @param {QueryOptions} options
   */
  _query(method, fields, options) {
    return this._unary(this.marketIntel, method,
      { ...fields, asOf: toAsOf(options.asOf), minPosition: optionalString(options.minPosition) }, options);
  }

  /**
   * Returns a company's estimated cap table (response.capTable.holders).
   * @param {string} companyId
   * @param {QueryOptions & {includePending?: boolean}} [options] includePending: pro forma with open deals
   * @returns {Promise<GetCapTableResponse>}
   */
  capTable(companyId, options = {}) {
    return this._query('GetCapTable', { companyId, includePending: !!options.includePending }, options);
  }

  /**
   * Returns an investor's portfolio (subsidiaries rolled up unless directOnly).
   * @param {string} investorId
   * @param {QueryOptions & {includePending?: boolean, directOnly?: boolean}} [options]
   * @returns {Promise<GetPortfolioResponse>}
   */
  portfolio(investorId, options = {}) {
    return this._query('GetPortfolio',
      { investorId, includePending: !!options.includePending, directOnly: !!options.directOnly }, options);
  }

  /**
   * Returns one page of an organization's timeline, by effective date.
   * @param {string} orgId
   * @param {QueryOptions & {eventTypes?: string[], pageSize?: number, pageToken?: string, descending?: boolean}} [options]
   * @returns {Promise<GetTimelineResponse>}
   */
  timeline(orgId, options = {}) {
    return this._query('GetTimeline', {
      orgId, eventTypes: options.eventTypes ?? [], descending: !!options.descending, ...paging(options),
    }, options);
  }

  /**
   * Returns one organization (response.organization).
   * @param {string} orgId
   * @param {QueryOptions} [options]
   * @returns {Promise<GetOrganizationResponse>}
   */
  organization(orgId, options = {}) {
    return this._query('GetOrganization', { orgId }, options);
  }

  /**
   * Lists organizations by name or alias prefix, one page.
   * @param {QueryOptions & {namePrefix?: string, kind?: string, sector?: string, pageSize?: number, pageToken?: string}} [options]
   * @returns {Promise<ListOrganizationsResponse>}
   */
  organizations(options = {}) {
    return this._query('ListOrganizations', {
      namePrefix: options.namePrefix ?? '', kind: options.kind, sector: options.sector ?? '', ...paging(options),
    }, options);
  }

  /**
   * Returns one deal with its stage history (response.deal).
   * @param {string} dealId
   * @param {QueryOptions} [options]
   * @returns {Promise<GetDealResponse>}
   */
  deal(dealId, options = {}) {
    return this._query('GetDeal', { dealId }, options);
  }

  /**
   * Lists deals, one page; the filters combine with AND.
   * @param {QueryOptions & {companyId?: string, investorId?: string, stage?: string, overdueOnly?: boolean,
   *   kind?: string, pageSize?: number, pageToken?: string}} [options]
   * @returns {Promise<ListDealsResponse>}
   */
  deals(options = {}) {
    return this._query('ListDeals', {
      companyId: options.companyId ?? '', investorId: options.investorId ?? '', stage: options.stage,
      overdueOnly: !!options.overdueOnly, kind: options.kind, ...paging(options),
    }, options);
  }

  /**
   * Returns a company's valuation history (response.points).
   * @param {string} companyId
   * @param {QueryOptions} [options]
   * @returns {Promise<GetValuationHistoryResponse>}
   */
  valuations(companyId, options = {}) {
    return this._query('GetValuationHistory', { companyId }, options);
  }

  /**
   * Lists an organization's partnerships (response.partnerships).
   * @param {string} orgId
   * @param {QueryOptions & {directOnly?: boolean, includeEnded?: boolean}} [options]
   * @returns {Promise<ListPartnershipsResponse>}
   */
  partners(orgId, options = {}) {
    return this._query('ListPartnerships',
      { orgId, directOnly: !!options.directOnly, includeEnded: !!options.includeEnded }, options);
  }

  /**
   * Returns an organization's competitive exposure (response.exposures).
   * @param {string} orgId
   * @param {QueryOptions & {closedOnly?: boolean}} [options]
   * @returns {Promise<GetExposureResponse>}
   */
  exposure(orgId, options = {}) {
    return this._query('GetExposure', { orgId, closedOnly: !!options.closedOnly }, options);
  }

  /**
   * Returns capital by quarter × sector × stage × kind, and the largest deals.
   * @param {QueryOptions & {fromQuarter?: object, toQuarter?: object, sector?: string, kind?: string,
   *   excludeCollapsed?: boolean, largestDealsLimit?: number}} [options]
   * @returns {Promise<GetMarketSummaryResponse>}
   */
  summary(options = {}) {
    return this._query('GetMarketSummary', {
      fromQuarter: options.fromQuarter, toQuarter: options.toQuarter, sector: options.sector ?? '',
      kind: options.kind, excludeCollapsed: !!options.excludeCollapsed,
      largestDealsLimit: options.largestDealsLimit ?? 0,
    }, options);
  }

  // -------------------------------------------------------------------------
  // Admin
  // -------------------------------------------------------------------------

  /**
   * Returns the log's end, the projections' position and counts.
   * @param {{includeDigest?: boolean, timeoutMs?: number}} [options]
   * @returns {Promise<GetStatsResponse>}
   */
  stats(options = {}) {
    return this._unary(this.admin, 'GetStats', { includeDigest: !!options.includeDigest }, options);
  }
}

module.exports = { Client };
