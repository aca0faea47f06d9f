/**
 * Admission blocks: capacity a tenant's entity leases to a starting process (the API, an `ados`
 * CLI server, a worker that starts shadows) so that the starter admits runs locally, with no round
 * trip per start. A block is k slots and $X for T seconds. Until the starter reports which runs it
 * started from the block, the entity counts the whole block as in use: its slots against the
 * tenant's concurrency limit, its money as reserved (and committed, for the CostAgent's
 * projections). A report turns each started run into an ordinary run in flight holding the lease
 * the starter carved for it; handing the block back frees what was not used.
 *
 * A starter that dies cannot hand its block back. When the block expires, the entity asks
 * visibility which runs were started from it (their AdmissionBlock search attribute) and keeps
 * only as many slots as those runs not yet released, with the block's money, until they end.
 * Until a block is handed back or reconciled its record stays, so that a report that comes after
 * one of its runs was released does not hold that run's slot again.
 * Pure functions over the block records the ledger keeps; the ledger supplies room and money.
 */

export interface AdmissionBlockState {
  blockId: string;
  /** Who holds it (a process name), for status views and logs. */
  starter: string;
  /** Slots held: not yet reported as runs (used or not). */
  slots: number;
  /** Money held: not yet carved into reported runs' leases. */
  micros: number;
  grantedAt: string;
  expiresAt: string;
  /** Slots reported used or released before a report, in the order the starter used them. */
  used: number;
  /** The slots (0-based, in order of use) whose runs explore in shadow, drawn when it was granted. */
  explore: number[];
  /** What each slot's draw added to the tenant's exploration credit (absent in blocks granted before it was kept). */
  exploreDraw?: number;
  /** Past its expiry without being handed back: `slots` are the runs visibility found, not yet released. */
  reconciled?: boolean;
  /** Runs of this block released before their starter reported them: a later report skips them. */
  releasedEarly: string[];
  /** Runs of this block its starter reported (holding slots of their own now, or released already). */
  reported: string[];
  /**
   * The tenant's settings changed after it was granted: its starter is told to stop admitting from
   * it (at its next message) and to ask for a block under the new settings.
   */
  revoked?: boolean;
}

/** A run a starter admitted from one of its blocks, with the lease it gave it. */
export interface BlockUse {
  blockId: string;
  runId: string;
  workflowId: string;
  priority: number;
  leaseMicros: number;
  estimatedMicros: number;
}

/** A run visibility lists as started from a block. */
export interface BlockRun {
  runId: string;
  workflowId: string;
  /** Still running; a closed one whose release never came is handed to the export sweep's release. */
  running: boolean;
}

/** What a starter asks of its tenant's entity, in one update: report, hand back, and ask anew. */
export interface BlockLeaseRequest {
  starter: string;
  /** Runs started from its blocks since its last request. */
  used: BlockUse[];
  /** Blocks it is done with: whatever of them is not in `used` (now or before) was not used. */
  handBack: string[];
  /** A new block, when it wants one. */
  want?: { blockId: string; slots: number; micros: number; ttlSeconds: number };
}

export interface BlockGrant {
  blockId: string;
  slots: number;
  micros: number;
  expiresAt: string;
  /** The slots (0-based, in order of use) whose runs explore in shadow. */
  explore: number[];
}

/** Longest a block may be leased for, and the shortest. */
export const BLOCK_TTL_SECONDS = { min: 5, max: 300 } as const;
/** What is wrong with a block length, or undefined: 0 (off) or 5 to 300 seconds. */
export function blockSecondsProblem(seconds: number): string | undefined {
  if (
    seconds === 0 ||
    (Number.isInteger(seconds) && seconds >= BLOCK_TTL_SECONDS.min && seconds <= BLOCK_TTL_SECONDS.max)
  )
    return undefined;
  return `must be 0 (off) or a whole number of seconds from ${BLOCK_TTL_SECONDS.min} to ${BLOCK_TTL_SECONDS.max} (got ${seconds}): the entity grants no shorter block`;
}

/** How long after a block's expiry its runs are looked up in visibility (its last starts must be visible). */
export const BLOCK_RECONCILE_AFTER_MS = 10_000;

export class AdmissionBlocks {
  constructor(private readonly blocks: AdmissionBlockState[]) {}

  list(): readonly AdmissionBlockState[] {
    return this.blocks;
  }

  find(blockId: string): AdmissionBlockState | undefined {
    return this.blocks.find((b) => b.blockId === blockId);
  }

  /** Slots every block holds. */
  slots(): number {
    return this.blocks.reduce((sum, b) => sum + b.slots, 0);
  }

  /** Money every block holds. */
  micros(): number {
    return this.blocks.reduce((sum, b) => sum + b.micros, 0);
  }

  /**
   * Records a new block of at most the room and money given; none when either is nothing. A
   * repeated request for a block the entity already granted gets the same grant again.
   */
  grant(
    want: NonNullable<BlockLeaseRequest['want']>,
    starter: string,
    room: number,
    money: number,
    now: string,
    explores: { draw: number; next: (slot: number) => boolean },
  ): BlockGrant | undefined {
    const existing = this.find(want.blockId);
    if (existing) return grantOf(existing);
    const slots = Math.max(0, Math.min(Math.floor(want.slots), room));
    const micros = Math.max(0, Math.min(Math.floor(want.micros), money));
    if (slots === 0 || micros === 0) return undefined;
    const ttl = Math.min(BLOCK_TTL_SECONDS.max, Math.max(BLOCK_TTL_SECONDS.min, want.ttlSeconds));
    const block: AdmissionBlockState = {
      blockId: want.blockId,
      starter,
      slots,
      micros,
      grantedAt: now,
      expiresAt: new Date(Date.parse(now) + ttl * 1000).toISOString(),
      used: 0,
      explore: Array.from({ length: slots }, (_, slot) => slot).filter(explores.next),
      exploreDraw: explores.draw,
      releasedEarly: [],
      reported: [],
    };
    this.blocks.push(block);
    return grantOf(block);
  }

  /**
   * A run its starter reports: takes its slot and lease out of its block. Returns false when the run
   * needs no slot of its own (released already, or a repeat: a block is forgotten only once every
   * slot of it is accounted for); true when the caller must hold it as a run in flight.
   */
  take(use: BlockUse): boolean {
    const block = this.find(use.blockId);
    if (!block || block.slots === 0) return false;
    const early = block.releasedEarly.indexOf(use.runId);
    if (early >= 0) {
      // Reported at last: still accounted for, should the block be reconciled later.
      block.releasedEarly.splice(early, 1);
      block.reported.push(use.runId);
      this.forgetIfEmpty(block);
      return false;
    }
    if (block.reported.includes(use.runId)) return false;
    block.slots -= 1;
    block.used += 1;
    block.reported.push(use.runId);
    block.micros = Math.max(0, block.micros - use.leaseMicros);
    this.forgetIfEmpty(block);
    return true;
  }

  /**
   * A run of this block ended before its starter reported it: its slot and lease are free now.
   * `leaseMicros` is what the run was given (its release says), taken out of the block's money.
   */
  releaseUnreported(blockId: string, runId: string, leaseMicros: number): void {
    const block = this.find(blockId);
    // A release repeated (the export sweep backs up the worker's), or of a run reported already, frees nothing here.
    if (!block || block.slots === 0 || block.reported.includes(runId) || block.releasedEarly.includes(runId)) return;
    block.slots -= 1;
    block.used += 1;
    block.micros = Math.max(0, block.micros - leaseMicros);
    // A reconciled block has no report to come.
    if (!block.reconciled) block.releasedEarly.push(runId);
    this.forgetIfEmpty(block);
  }

  /**
   * The starter is done with a block: what no report named was not used. Returns the unused slots'
   * exploration draws, for the learning profile to undo.
   */
  handBack(blockId: string): { slots: number; explorations: number; draw?: number } {
    const block = this.find(blockId);
    if (!block || block.reconciled) return { slots: 0, explorations: 0 };
    this.blocks.splice(this.blocks.indexOf(block), 1);
    const explorations = block.explore.filter((slot) => slot >= block.used).length;
    // Blocks granted before draws were kept gave back their explorations alone.
    return block.exploreDraw === undefined
      ? { slots: 0, explorations }
      : { slots: block.slots, explorations, draw: block.exploreDraw };
  }

  /** Every block now held is granted under settings that no longer hold: its starter stops using it. */
  revokeAll(): void {
    for (const block of this.blocks) if (!block.reconciled) block.revoked = true;
  }

  /** The blocks a starter must stop admitting from: revoked, or all of them (`all`: the tenant is over budget). */
  revokedFor(starter: string, all: boolean): string[] {
    return this.blocks
      .filter((b) => b.starter === starter && !b.reconciled && (all || b.revoked))
      .map((b) => b.blockId);
  }

  /** Blocks past their expiry by `BLOCK_RECONCILE_AFTER_MS` whose starter never handed them back. */
  due(now: string): AdmissionBlockState[] {
    const t = Date.parse(now);
    return this.blocks.filter((b) => !b.reconciled && dueAt(b) <= t);
  }

  /** The earliest time a block falls due, for the entity's timer. */
  nextDue(): string | undefined {
    const times = this.blocks.filter((b) => !b.reconciled).map(dueAt);
    return times.length > 0 ? new Date(Math.min(...times)).toISOString() : undefined;
  }

  /**
   * What visibility says was started from an expired block: the runs still running and not yet
   * reported or released keep one slot each and, together, the block's money, until they are
   * released. Returns the closed ones whose release never came: the caller holds them as runs in
   * flight, which the export sweep releases with the costs of their results.
   */
  reconcile(blockId: string, started: readonly BlockRun[]): BlockRun[] {
    const block = this.find(blockId);
    if (!block || block.reconciled) return [];
    const accounted = new Set([...block.releasedEarly, ...block.reported]);
    const open = new Map(started.filter((r) => !accounted.has(r.runId)).map((r) => [r.runId, r]));
    const closed = [...open.values()].filter((r) => !r.running);
    block.slots = Math.min(block.slots, open.size - closed.length);
    block.reconciled = true;
    block.releasedEarly = [];
    block.reported = [];
    this.forgetIfEmpty(block);
    return closed;
  }

  /** A reconciled block no run holds any more is forgotten, and its money with it. */
  private forgetIfEmpty(block: AdmissionBlockState): void {
    if (block.reconciled && block.slots === 0) this.blocks.splice(this.blocks.indexOf(block), 1);
  }
}

/** When a block not handed back is reconciled: its expiry and a grace for its last starts to be visible. */
function dueAt(block: AdmissionBlockState): number {
  return Date.parse(block.expiresAt) + BLOCK_RECONCILE_AFTER_MS;
}

function grantOf(block: AdmissionBlockState): BlockGrant {
  return {
    blockId: block.blockId,
    slots: block.slots,
    micros: block.micros,
    expiresAt: block.expiresAt,
    explore: block.explore,
  };
}
