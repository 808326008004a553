'use strict';
/**
 * Subscription: an async iterator over the events of EventStore.Subscribe
 * that survives disconnects and, for a named (durable) subscription, keeps
 * its checkpoint on the server.
 *
 *   const sub = client.subscribe({ name: 'deal-alerts', eventTypes: ['InvestmentReported', 'DealStageChanged'],
 *                                  onCaughtUp: (p) => console.log('live at', p) });
 *   for await (const event of sub) {
 *     handle(event);                 // process idempotently (by event id)
 *     if (enough) break;             // commits the checkpoint, cancels the call
 *   }
 *
 * Delivery: events arrive in position order. Within one Subscription there
 * is no gap and no duplicate, also across reconnects: on UNAVAILABLE, or when
 * the server ends the call without being asked, it reconnects with bounded
 * exponential backoff (100 ms doubling up to 5 s, at most
 * `maxReconnectAttempts` failures in a row) and resumes after the last event
 * it delivered (or the last checkpoint / caught-up position it passed).
 * Other errors (FAILED_PRECONDITION when the named subscription is deleted or
 * resumed with another filter, INVALID_ARGUMENT, ...) reject next().
 *
 * Checkpoints (named subscriptions only): an event counts as processed once
 * the consumer asks for the next one, or leaves the loop (break, return or an
 * exception: for-await calls return(), which counts the last event as
 * processed). The processed position is committed with CommitCheckpoint at
 * most every `commitIntervalMs` / `commitEveryEvents`, and always when the
 * iterator ends (return(), close(), an abort signal). A new Subscription with
 * the same name and no start resumes right after it: no gap, no duplicate
 * after a clean stop; after a crash, at-least-once since the last commit.
 */

const { status: Status } = require('@grpc/grpc-js');
const { fromGrpcError, Unavailable } = require('./errors');
const { toBigInt } = require('./convert');

/**
 * @typedef {import('@dealwire/generated/dealwire/v1/Event').Event__Output} EventOutput
 * @typedef {import('@dealwire/generated/dealwire/v1/SubscribeRequest').SubscribeRequest} SubscribeRequest
 * @typedef {import('@dealwire/generated/dealwire/v1/SubscribeResponse').SubscribeResponse__Output} SubscribeResponse
 * @typedef {import('@dealwire/generated/dealwire/v1/SubscriptionFilter').SubscriptionFilter} SubscriptionFilter
 */

/**
 * @typedef {object} SubscribeOptions
 * @property {string} [name] durable subscription name (created on first use); empty: anonymous
 * @property {number | bigint | string} [fromPosition] deliver the events after this position
 * @property {boolean} [fromStart] deliver from position 1 (the default of an anonymous subscription)
 * @property {boolean} [fromEnd] deliver only events committed from now on
 *   (Without a start, a named subscription resumes after its stored checkpoint.)
 * @property {string[]} [eventTypes] only these payload types, e.g. 'InvestmentReported'
 * @property {string[]} [orgIds] only events naming one of these organizations
 * @property {string[]} [streamPrefixes] only streams starting with one of these
 * @property {SubscriptionFilter} [filter] a whole filter instead of the three above
 * @property {number} [maxBatchEvents] events per server message while catching up (transparent). Default: 100
 * @property {number} [checkpointInterval] server checkpoint every this many examined events. Default: server's (1000)
 * @property {number} [heartbeatIntervalMs] server heartbeat when idle. Default: server's (30 s)
 * @property {number} [commitIntervalMs] commit the checkpoint at most this often. Default: 5000
 * @property {number} [commitEveryEvents] ... or after this many processed events. Default: 1000
 * @property {number} [maxReconnectAttempts] failed reconnects in a row before next() rejects with
 *   Unavailable. Default: 10 (about half a minute); Infinity to retry for ever
 * @property {AbortSignal} [signal] aborting it ends the iteration (like close())
 * @property {(position: string) => void} [onCaughtUp] called when the subscription goes live
 * @property {(position: string, reason: string) => void} [onFellBehind] called when it falls back to reading the log
 * @property {(attempt: number, error: Error) => void} [onReconnect] called before each reconnect
 */

const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 5000;
const HIGH_WATER = 256; // queued messages before the call is paused (HTTP/2 flow control takes over)
const LOW_WATER = 64;

/** @implements {AsyncIterableIterator<EventOutput>} */
class Subscription {
  /**
   * Use Client.subscribe().
   * @param {import('./client').Client} client
   * @param {SubscribeOptions} [options]
   */
  constructor(client, options = {}) {
    this._client = client;
    /** The durable name, or '' for an anonymous subscription. */
    this.name = options.name || '';
    const f = options.filter || {
      eventTypes: options.eventTypes || [], orgIds: options.orgIds || [], streamPrefixes: options.streamPrefixes || [],
    };
    const empty = !(f.eventTypes?.length || f.orgIds?.length || f.streamPrefixes?.length);
    this._filter = empty ? undefined : f;
    const fromPosition = options.fromPosition ?? null;
    /** Starts at the end of the log (resolved to a position before the first call). */
    this._fromEnd = fromPosition === null && !!options.fromEnd;
    this._options = options;
    this._maxBatchEvents = options.maxBatchEvents ?? 100;
    this._commitIntervalMs = options.commitIntervalMs ?? 5000;
    this._commitEveryEvents = options.commitEveryEvents ?? 1000;
    this._maxReconnectAttempts = options.maxReconnectAttempts ?? 10;

    /**
     * Resume point: the last delivered event or passed checkpoint; null before
     * the first call of a named subscription resuming from its stored checkpoint
     * (or of one from the end).
     * @type {bigint | null}
     */
    this._resumeAfter = fromPosition !== null ? toBigInt(fromPosition)
      : !this._fromEnd && (options.fromStart || !this.name) ? 0n : null;
    /** @type {bigint | null} the position the consumer has processed */
    this._acked = null;
    /** @type {bigint | null} */
    this._committed = null;
    this._lastCommitTime = Date.now();
    this._sinceCommit = 0;

    /** @type {EventOutput[]} */
    this._pending = [];
    /** @type {Array<{gen: number, message?: SubscribeResponse, error?: any, end?: boolean}>} */
    this._queue = [];
    /** @type {(() => void) | null} */
    this._wake = null;
    /** @type {any} */
    this._call = null;
    this._gen = 0;
    this._failures = 0;
    this._closed = false;
    this._done = false;
    /** @type {Promise<IteratorResult<EventOutput>> | null} */
    this._finishing = null;

    /** True while the subscription is live (after caughtUp, until fellBehind or a reconnect). */
    this.live = false;
    /** The end of the log according to the last heartbeat, as a string. */
    this.serverLastPosition = null;
    /** How many times it reconnected. */
    this.reconnects = 0;

    if (options.signal) {
      if (options.signal.aborted) this._closed = true;
      else options.signal.addEventListener('abort', () => { this.close().catch(() => {}); }, { once: true });
    }
  }

  /** @returns {this} */
  [Symbol.asyncIterator]() { return this; }

  /** The resume point (last delivered event or passed checkpoint), as a string, or null. */
  get position() { return this._resumeAfter === null ? null : this._resumeAfter.toString(); }

  /** The last committed checkpoint, as a string, or null. */
  get committedPosition() { return this._committed === null ? null : this._committed.toString(); }

  /**
   * Resolves with the next matching event (catching up, then live).
   * @returns {Promise<IteratorResult<EventOutput>>}
   */
  async next() {
    if (this._done) return { done: true, value: undefined };
    if (this._finishing) return this._finishing;
    this._acked = this._resumeAfter; // the event delivered last has been processed
    try {
      await this._maybeCommit();
      for (;;) {
        while (this._pending.length) {
          const event = /** @type {EventOutput} */ (this._pending.shift());
          const p = toBigInt(event.position);
          if (this._resumeAfter !== null && p <= this._resumeAfter) continue; // already delivered
          this._resumeAfter = p;
          this._sinceCommit++;
          return { done: false, value: event };
        }
        if (this._closed) return this._finish();
        if (!this._call && !(await this._connect())) continue;
        const item = await this._take();
        if (this._closed) return this._finish();
        if (!item || item.gen !== this._gen) continue;
        if (item.error || item.end) {
          await this._lost(item.error);
          continue;
        }
        this._failures = 0;
        this._handle(/** @type {SubscribeResponse} */ (item.message));
      }
    } catch (e) {
      this._done = true;
      this._cancel();
      throw e;
    }
  }

  /**
   * Ends the iteration: cancels the call and commits the checkpoint of a
   * named subscription (the last delivered event counts as processed).
   * @returns {Promise<IteratorResult<EventOutput>>}
   */
  async return() {
    if (this._done && !this._finishing) return { done: true, value: undefined };
    this._closed = true;
    this._acked = this._resumeAfter;
    return this._finish(); // cancels the call
  }

  /** Same as return(); usable from a signal handler while a next() is pending. */
  async close() {
    await this.return();
  }

  /**
   * Commits the processed position of a named subscription now.
   * @returns {Promise<void>}
   */
  async commit() {
    if (!this._uncommitted()) return;
    const position = /** @type {bigint} */ (this._acked);
    try {
      await this._client.commitCheckpoint(this.name, position);
      if (this._committed === null || position > this._committed) this._committed = position;
    } finally {
      // Counted as attempted either way: a failing server is not asked again on every next().
      this._lastCommitTime = Date.now();
      this._sinceCommit = 0;
    }
  }

  /** True when a named subscription has processed past its last committed checkpoint. */
  _uncommitted() {
    return this.name !== '' && this._acked !== null && this._acked !== this._committed;
  }

  async _maybeCommit() {
    if (!this._uncommitted()) return;
    if (Date.now() - this._lastCommitTime < this._commitIntervalMs && this._sinceCommit < this._commitEveryEvents) return;
    try {
      await this.commit();
    } catch (e) {
      if (!(e instanceof Unavailable)) throw e; // the stream reconnect handles a lost server
    }
  }

  /** @returns {Promise<IteratorResult<EventOutput>>} */
  _finish() {
    if (!this._finishing) {
      this._finishing = (async () => {
        this._cancel();
        try {
          await this.commit();
        } finally {
          this._done = true;
        }
        return /** @type {IteratorResult<EventOutput>} */ ({ done: true, value: undefined });
      })();
    }
    return this._finishing;
  }

  /** @returns {SubscribeRequest} */
  _request() {
    /** @type {SubscribeRequest} */
    const req = { subscriptionName: this.name, filter: this._filter, maxBatchEvents: this._maxBatchEvents };
    if (this._options.checkpointInterval) req.checkpointInterval = this._options.checkpointInterval;
    if (this._options.heartbeatIntervalMs) {
      const ms = this._options.heartbeatIntervalMs;
      req.heartbeatInterval = { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 };
    }
    if (this._resumeAfter !== null) req.afterPosition = this._resumeAfter.toString();
    // else: a named subscription without a start resumes after its stored checkpoint
    return req;
  }

  /**
   * Opens the Subscribe call. Resolves false when it could not (and has
   * backed off), true when the call is open.
   * @returns {Promise<boolean>}
   */
  async _connect() {
    if (this._fromEnd && this._resumeAfter === null) {
      try {
        this._resumeAfter = await this._client.lastPosition();
      } catch (e) {
        await this._lost(e);
        return false;
      }
    }
    const gen = ++this._gen;
    this._queue = [];
    const call = this._client.eventStore.Subscribe(this._request(), this._client.metadata());
    this._call = call;
    call.on('data', (message) => {
      if (gen !== this._gen) return;
      this._queue.push({ gen, message });
      if (this._queue.length >= HIGH_WATER) call.pause();
      this._notify();
    });
    call.on('error', (error) => { if (gen === this._gen) { this._queue.push({ gen, error }); this._notify(); } });
    call.on('end', () => { if (gen === this._gen) { this._queue.push({ gen, end: true }); this._notify(); } });
    return true;
  }

  _notify() {
    const wake = this._wake;
    this._wake = null;
    if (wake) wake();
  }

  /** @returns {Promise<{gen: number, message?: SubscribeResponse, error?: any, end?: boolean} | undefined>} */
  async _take() {
    while (!this._queue.length && !this._closed) {
      await new Promise((resolve) => { this._wake = /** @type {() => void} */ (resolve); });
    }
    const item = this._queue.shift();
    if (this._call && this._queue.length < LOW_WATER && this._call.isPaused()) this._call.resume();
    return item;
  }

  /**
   * Handles the end of a call: backs off and lets next() reconnect, or
   * throws when the error is not retryable or too many attempts failed.
   * @param {any} error the call's error, or undefined for an end without status error
   */
  async _lost(error) {
    this._cancel();
    this.live = false;
    const err = error ? fromGrpcError(error) : new Unavailable(Status.UNAVAILABLE, 'the server ended the subscription');
    const retryable = err.code === Status.UNAVAILABLE
      || (err.code === Status.INTERNAL && /RST_STREAM|Connection dropped|ECONNRESET/i.test(err.details));
    if (!retryable) throw err;
    this._failures++;
    if (this._failures > this._maxReconnectAttempts) throw err;
    this.reconnects++;
    this._options.onReconnect?.(this._failures, err);
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this._failures - 1));
    await this._sleep(delay * (0.5 + Math.random() / 2));
  }

  /** Sleeps, but wakes early when the subscription is closed. */
  _sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this._wake = null; resolve(undefined); }, ms);
      this._wake = () => { clearTimeout(timer); resolve(undefined); };
    });
  }

  _cancel() {
    const call = this._call;
    this._call = null;
    this._gen++;
    this._queue = [];
    if (call) {
      call.cancel();
    }
    this._notify();
  }

  /**
   * Moves the resume point to a checkpoint or caught-up position the server
   * passed (never back).
   * @param {string} p
   */
  _advance(p) {
    const position = toBigInt(p);
    if (this._resumeAfter === null || position > this._resumeAfter) this._resumeAfter = position;
    this._acked = this._resumeAfter; // nothing delivered is unprocessed here
  }

  /**
   * Handles one message of the stream (in order, with no undelivered event
   * before it).
   * @param {SubscribeResponse} m
   */
  _handle(m) {
    switch (m.message) {
      case 'event':
        if (m.event) this._pending.push(m.event);
        break;
      case 'events':
        if (m.events) this._pending.push(...m.events.events);
        break;
      case 'caughtUp':
        this._advance(/** @type {any} */ (m.caughtUp).position);
        this.live = true;
        this._options.onCaughtUp?.(/** @type {any} */ (m.caughtUp).position);
        break;
      case 'checkpoint':
        this._advance(/** @type {any} */ (m.checkpoint).position);
        break;
      case 'heartbeat':
        this.serverLastPosition = /** @type {any} */ (m.heartbeat).lastPosition;
        break;
      case 'fellBehind':
        this._advance(/** @type {any} */ (m.fellBehind).position);
        this.live = false;
        this._options.onFellBehind?.(/** @type {any} */ (m.fellBehind).position, /** @type {any} */ (m.fellBehind).reason);
        break;
      default:
        break;
    }
  }
}

module.exports = { Subscription };
