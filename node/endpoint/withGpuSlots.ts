import type { ReplicaLauncher } from "./types.ts";

/**
 * Gives each replica its own share of an endpoint's GPUs: `slots` holds one group of GPU UUIDs per
 * replica the agreement sold (`maxReplicas` groups of a replica's GPUs). A replica takes a free
 * group when it starts and gives it back once its container is gone, so two replicas never share a
 * GPU; a replica starting while the one it replaces still holds its group waits for it (or for its
 * start to be aborted). `make` builds the launcher with the lookup it hands Docker.
 */
export function withGpuSlots(
  slots: readonly (readonly string[])[],
  make: (gpuUuids: (replicaId: string) => readonly string[]) => ReplicaLauncher,
): ReplicaLauncher {
  if (slots.every((slot) => slot.length === 0)) return make(() => []);
  const held = new Map<string, number>();
  const free = slots.map((_, index) => index);
  const waiting: Array<() => void> = [];
  const inner = make((replicaId) => slots[held.get(replicaId) ?? -1] ?? []);

  const release = (replicaId: string) => {
    const slot = held.get(replicaId);
    if (slot === undefined) return;
    held.delete(replicaId);
    free.push(slot);
    waiting.shift()?.();
  };
  const take = async (replicaId: string, signal: AbortSignal) => {
    while (free.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          const at = waiting.indexOf(wake);
          if (at >= 0) waiting.splice(at, 1);
          reject(signal.reason);
        };
        waiting.push(wake);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    }
    held.set(replicaId, free.shift() as number);
  };

  return {
    kind: inner.kind,
    async start(options) {
      await take(options.replicaId, options.signal);
      try {
        const instance = await inner.start(options);
        void instance.exited.then(() => release(options.replicaId));
        return instance;
      } catch (error) {
        release(options.replicaId);
        throw error;
      }
    },
  };
}
