/**
 * Admission from blocks: capacity a tenant's entity leases to a long-lived starter (the HTTP API),
 * which admits runs against it with no round trip (the rules: workflows/domain/admission/blocks.ts).
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { hostname } from 'node:os';
import { leaseBlocksUpdate, MAX_ADMISSIONS_PER_UPDATE } from '../../../workflows/messages/tenant-budget';
import { ADMISSION_TIMEOUT_MS } from './by-entity';
import { firstLeaseMicros, type BlockLeaseAnswer } from '../../../workflows/domain/tenant/ledger';
import type { BlockLeaseRequest, BlockUse } from '../../../workflows/domain/admission/blocks';
import { tenantBudgetWorkflowId } from '../../../workflows/domain/ids';
import { updateAskingAgain } from '../entity-update';
import type {
  AdmissionRequest,
  AdmissionTicket,
  TenantPressure,
} from '../../../workflows/domain/tenant/entity-payloads';

/** A block this process holds for a tenant, as it uses it. */
interface HeldBlock {
  grant: NonNullable<BlockLeaseAnswer['grant']>;
  slotsLeft: number;
  microsLeft: number;
  nextSlot: number;
  /** Local time after which no run is admitted from it (a margin before its expiry). */
  usableUntil: number;
  leasedAt: number;
  /** When a run was last admitted from it (or it was leased). */
  lastUsedAt: number;
}

/** Stop admitting from a block this long before it expires, so its runs start well within it. */
const BLOCK_EXPIRY_MARGIN_MS = 5_000;
/**
 * Ask for a new block when this share of the current one is left, or sooner: when what is left
 * lasts, at the current rate of starts, no longer than a lease message takes twice over.
 */
const REFILL_AT = 0.25;
/** A block holds this long's starts at the current rate, at least (and at least four lease messages' time). */
const BLOCK_LASTS_MS = 2_000;
/** A block's size in slots: it starts small and doubles while blocks run out quickly. */
const BLOCK_SLOTS = { first: 8, max: 256 } as const;
/** After the entity grants no block, admit run by run for this long before asking again. */
const NO_BLOCK_BACKOFF_MS = 1_000;
/** Runs started and blocks retired are reported at the latest this long after. */
const FLUSH_MS = 1_000;
/**
 * A block no run was admitted from for this long goes back to the entity: an idle starter holds no
 * slots or money that other doors' runs could use. The next start leases a block again.
 */
const BLOCK_IDLE_MS = 2_000;

export interface AdmissionBlockOptions {
  /** This process's name in the entities' block records (letters, digits, . _ : -). */
  starter: string;
  /** How long each block is leased for. */
  ttlSeconds: number;
}

/**
 * A long-lived starter's admission from blocks: runs are admitted here, against a block of slots
 * and money the tenant's entity leased to this process, with no round trip; the block is refilled
 * in the background before it runs low (one `leaseBlocks` update reports the runs started from the
 * old block, hands it back and leases the next), and handed back on close. When the entity grants
 * no block (runs are waiting, the tenant is above its backpressure threshold or over budget, or
 * a run's lease does not fit what is left), the run is admitted by the entity itself as before.
 */
export class TenantBlocks {
  private held: HeldBlock | undefined;
  /** Blocks no longer used, handed back with the next message (after the runs started from them). */
  private retired: string[] = [];
  private unreported: BlockUse[] = [];
  private exchanging: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private slots: number = BLOCK_SLOTS.first;
  private seq = 0;
  private noBlockUntil = 0;
  private lastLeaseMicros = 0;
  /** Starts waiting for the next block. */
  private demand = 0;
  /**
   * The most slots one block asks for: half the tenant's admission limit (its concurrency limit at
   * its backpressure threshold), known from the last grant; so a refill, or another starter of
   * the same tenant, finds room while this block is still held.
   */
  private maxSlots: number = BLOCK_SLOTS.max;
  /** Starts admitted here per second, measured between block requests. */
  private rate = 0;
  private admittedSinceRate = 0;
  private rateSince = Date.now();
  /** How long a lease message takes to be answered, smoothed but quick to rise. */
  private roundTripMs = 0;
  /** Whether the message in flight asks for a block; else a block wanted meanwhile is asked for after it. */
  private leasing = false;
  private leaseAfter: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    private readonly tenantId: string,
    private readonly options: AdmissionBlockOptions,
  ) {}

  async admit(request: AdmissionRequest, fallback: () => Promise<AdmissionTicket | undefined>) {
    for (let attempt = 0; ; attempt++) {
      const ticket = this.take(request);
      if (ticket) {
        if (this.low()) void this.exchange(true);
        return ticket;
      }
      if (attempt === 2 || Date.now() < this.noBlockUntil) return fallback();
      // Starts waiting for a block size the next one.
      this.demand++;
      await this.exchange(true).finally(() => this.demand--);
    }
  }

  /** Reports what was started and hands every block back (the process is stopping). */
  async close(): Promise<void> {
    clearTimeout(this.flushTimer);
    await this.exchanging;
    if (this.held) this.retired.push(this.held.grant.blockId);
    this.held = undefined;
    // As many messages as it takes; twice more should one go unanswered, then the entity reconciles what is left.
    const left = () => this.retired.length + this.unreported.length;
    for (let unanswered = 0; unanswered < 2 && left() > 0;) {
      const before = left();
      await this.exchange(false);
      if (left() >= before) unanswered++;
    }
  }

  private take(request: AdmissionRequest): AdmissionTicket | undefined {
    const held = this.held;
    const leaseMicros = firstLeaseMicros(held?.grant.leaseAt, request);
    this.lastLeaseMicros = Math.max(leaseMicros, Math.round(this.lastLeaseMicros * 0.9));
    if (!held || held.slotsLeft === 0 || Date.now() >= held.usableUntil || leaseMicros > held.microsLeft)
      return undefined;
    const slot = held.nextSlot++;
    held.slotsLeft--;
    this.admittedSinceRate++;
    held.microsLeft -= leaseMicros;
    held.lastUsedAt = Date.now();
    const blockId = held.grant.blockId;
    this.unreported.push({
      blockId,
      runId: request.runId,
      workflowId: request.workflowId,
      priority: request.priority,
      leaseMicros,
      estimatedMicros: request.estimatedMicros ?? 0,
    });
    return {
      kind: 'ADMITTED',
      runId: request.runId,
      dedicatedQueue: held.grant.dedicatedQueue,
      budgetStatus: held.grant.budgetStatus,
      lease: { runId: request.runId, grantedMicros: leaseMicros, pressure: this.pressureFor(leaseMicros), seq: 0 },
      learning: { ...held.grant.learning, explore: held.grant.explore.includes(slot) },
      block: { blockId, leaseMicros },
    };
  }

  /**
   * The block's snapshot of the tenant's pressure, as the entity would give this run: the money
   * others have committed counts the whole block, this run's own lease among it, which the run's
   * CostAgent counts as its own remainder.
   */
  private pressureFor(leaseMicros: number): TenantPressure {
    const pressure = this.held!.grant.pressure;
    return { ...pressure, othersCommittedMicros: Math.max(0, pressure.othersCommittedMicros - leaseMicros) };
  }

  /** Time to lease the next block: little left of this one, in slots, money or time. */
  private low(): boolean {
    const held = this.held;
    if (!held) return true;
    return (
      held.slotsLeft <= Math.max(held.grant.slots * REFILL_AT, (this.rate * 2 * this.roundTripMs) / 1000) ||
      held.microsLeft <= held.grant.micros * REFILL_AT ||
      Date.now() >= held.usableUntil - this.options.ttlSeconds * 1000 * REFILL_AT
    );
  }

  /**
   * One message at a time: the runs started since the last one, the retired blocks, and (`lease`)
   * a request for the next block. The current block stays in use until the next one arrives; it
   * is then retired and handed back by the following message, after the runs started from it.
   */
  private exchange(lease: boolean): Promise<void> {
    if (this.exchanging) {
      if (!lease || this.leasing) return this.exchanging;
      // A block wanted while a message without a request is out: asked for as soon as it is answered.
      this.leaseAfter ??= this.exchanging.then(() => {
        this.leaseAfter = undefined;
        return this.low() || this.demand > 0 ? this.exchange(true) : undefined;
      });
      return this.leaseAfter;
    }
    this.leasing = lease;
    this.exchanging = (async () => {
      // Starts that arrive together (a burst) all count towards the size of the block asked for.
      await new Promise((resolve) => setImmediate(resolve));
      // At most one update's worth of reports; a block goes back only once every run started from it is reported.
      const used = this.unreported.splice(0, MAX_ADMISSIONS_PER_UPDATE);
      const stillUnreported = new Set(this.unreported.map((u) => u.blockId));
      const handBack = this.retired.filter((b) => !stillUnreported.has(b));
      this.retired = this.retired.filter((b) => stillUnreported.has(b));
      const old = this.held;
      if (lease && old && old.slotsLeft === 0 && Date.now() - old.leasedAt < (this.options.ttlSeconds * 1000) / 2)
        this.slots = Math.min(BLOCK_SLOTS.max, this.slots * 2);
      // A burst waiting for this block gets room for itself and as many again, and a steady stream
      // a block that lasts a while at its rate, so that a refill is answered before it runs out.
      if (lease) this.measureRate();
      const lasting = (this.rate * Math.max(BLOCK_LASTS_MS, 4 * this.roundTripMs)) / 1000;
      this.slots = Math.min(BLOCK_SLOTS.max, Math.ceil(Math.max(this.slots, this.demand * 2, lasting)));
      const slots = Math.min(this.slots, this.maxSlots);
      const want = lease
        ? {
            blockId: blockIdOf(this.options.starter, Date.now(), this.seq++),
            slots,
            micros: Math.max(1, Math.ceil(slots * Math.max(1, this.lastLeaseMicros) * 1.5)),
            ttlSeconds: this.options.ttlSeconds,
          }
        : undefined;
      try {
        const sentAt = Date.now();
        const answer = await this.send(used, handBack, want);
        const took = Date.now() - sentAt;
        this.roundTripMs = took > this.roundTripMs ? took : 0.8 * this.roundTripMs + 0.2 * took;
        this.dropRevoked(answer.revoked);
        if (!lease) return;
        if (!answer.grant) {
          this.noBlockUntil = Date.now() + NO_BLOCK_BACKOFF_MS;
          return;
        }
        const { maxConcurrentRuns, backpressureThreshold } = answer.grant.pressure;
        this.maxSlots = Math.max(1, Math.floor((maxConcurrentRuns * backpressureThreshold) / 2));
        const leasedAt = Date.now();
        const ttlMs = Math.min(this.options.ttlSeconds * 1000, Date.parse(answer.grant.expiresAt) - leasedAt);
        // A refill is idle since the block it replaces was last used: a starter whose load stopped
        // while the refill was out hands it back as soon as the old block would have gone.
        const lastUsedAt = this.held?.lastUsedAt ?? leasedAt;
        if (this.held) this.retired.push(this.held.grant.blockId);
        this.held = {
          grant: answer.grant,
          slotsLeft: answer.grant.slots,
          microsLeft: answer.grant.micros,
          nextSlot: 0,
          leasedAt,
          lastUsedAt,
          usableUntil: leasedAt + ttlMs - BLOCK_EXPIRY_MARGIN_MS,
        };
      } catch (err) {
        // Unanswered, though the entity may have taken it: the next message says it all again
        // (reports and hand-backs are idempotent), and hands back the block asked for, in case it
        // was granted. A message the entity refused is not sent again.
        if (!(err instanceof WorkflowUpdateFailedError)) {
          this.unreported.unshift(...used);
          this.retired.push(...handBack, ...(want ? [want.blockId] : []));
        }
        if (lease) this.noBlockUntil = Date.now() + NO_BLOCK_BACKOFF_MS;
      } finally {
        this.scheduleFlush();
      }
    })().finally(() => (this.exchanging = undefined));
    return this.exchanging;
  }

  /** Starts per second since the last block request: quick to rise with a burst, slower to fall. */
  private measureRate(): void {
    const now = Date.now();
    const current = (this.admittedSinceRate * 1000) / Math.max(100, now - this.rateSince);
    this.rate = Math.max(current, (this.rate + current) / 2);
    this.admittedSinceRate = 0;
    this.rateSince = now;
  }

  /**
   * The entity no longer honours these blocks (the tenant's settings changed, or it is over
   * budget): no run is admitted from them any more; they go back with the next message.
   */
  private dropRevoked(revoked: string[] | undefined): void {
    if (!revoked || revoked.length === 0) return;
    if (this.held && revoked.includes(this.held.grant.blockId)) {
      this.retired.push(this.held.grant.blockId);
      this.held = undefined;
    }
  }

  /**
   * Retired blocks and unreported runs go out within a second even when no block runs low, and a
   * block left idle goes back.
   */
  private scheduleFlush(): void {
    if (this.flushTimer || (!this.held && this.retired.length === 0 && this.unreported.length === 0)) return;
    // The next check comes when the held block falls idle, if that is sooner than the next flush.
    const idleIn = this.held ? this.held.lastUsedAt + BLOCK_IDLE_MS - Date.now() : FLUSH_MS;
    this.flushTimer = setTimeout(
      () => {
        this.flushTimer = undefined;
        const held = this.held;
        if (held && !this.exchanging && Date.now() - held.lastUsedAt >= BLOCK_IDLE_MS) {
          this.retired.push(held.grant.blockId);
          this.held = undefined;
        }
        if (this.retired.length > 0 || this.unreported.length > 0) void this.exchange(false);
        // A message out schedules the next check when it is answered.
        else if (!this.exchanging) this.scheduleFlush();
      },
      Math.max(10, Math.min(FLUSH_MS, idleIn)),
    );
    this.flushTimer.unref();
  }

  private async send(used: BlockUse[], handBack: string[], want: BlockLeaseRequest['want']): Promise<BlockLeaseAnswer> {
    const entity = this.client.workflow.getHandle(tenantBudgetWorkflowId(this.tenantId));
    try {
      return await this.client.withDeadline(Date.now() + ADMISSION_TIMEOUT_MS, () =>
        updateAskingAgain((updateId) =>
          entity.executeUpdate(leaseBlocksUpdate, {
            updateId,
            args: [{ starter: this.options.starter, used, handBack, ...(want ? { want } : {}) }],
          }),
        ),
      );
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { none: 'unknown tenant' };
      throw err;
    }
  }
}

/** A block's id: its starter, when it was asked for, and the starter's sequence number. */
export function blockIdOf(starter: string, at: number, seq: number): string {
  return `${starter}.${at.toString(36)}.${seq}`;
}

/** How much of the host's name a starter's name keeps: its block ids (name, time, sequence) stay within 64 characters. */
const HOST_IN_NAME = 24;

/**
 * A starter's name in its tenants' block records: its kind, host and process (letters, digits,
 * . _ : -), at most 40 characters whatever the host is called (a Kubernetes pod's name is often
 * longer than that), so that each block id made from it passes the entity's 64-character check.
 */
export function starterName(kind: string, pid: number = process.pid, host: string = hostname()): string {
  return `${kind.slice(0, 8)}.${host.replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, HOST_IN_NAME)}.${pid}`;
}
