/**
 * Who holds each node: a node is in at most one running job (or the services' restore) at a time.
 * Held in memory only: a restart ends every job, so no lease outlives the process.
 */
export class Leases {
  /** Node id -> the holder's id (a job id, or a fixed name such as the services' restore). */
  private readonly holders = new Map<string, string>();

  /** Takes the lease on each free node for `holder`; nodes held by another come back as busy. */
  lease(ids: readonly string[], holder: string): { taken: string[]; busy: string[] } {
    const taken: string[] = [];
    const busy: string[] = [];
    for (const id of ids) {
      const current = this.holders.get(id);
      if (current !== undefined && current !== holder) busy.push(id);
      else {
        this.holders.set(id, holder);
        taken.push(id);
      }
    }
    return { taken, busy };
  }

  /** Gives back the nodes `holder` holds; a node held by another is left alone. */
  release(ids: readonly string[], holder: string): void {
    for (const id of ids) if (this.holders.get(id) === holder) this.holders.delete(id);
  }

  holder(id: string): string | undefined {
    return this.holders.get(id);
  }

  isLeased = (id: string): boolean => this.holders.has(id);
}
