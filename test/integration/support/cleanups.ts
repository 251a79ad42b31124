/**
 * What a test started, stopped in reverse order by `run()` (from afterEach/afterAll), even when the
 * test failed halfway; one failing stop does not keep the others from running.
 */
export function createCleanups() {
  const stack: (() => Promise<unknown> | unknown)[] = [];
  return {
    add(fn: () => Promise<unknown> | unknown): void {
      stack.push(fn);
    },
    async run(): Promise<void> {
      const errors: unknown[] = [];
      while (stack.length > 0) {
        const fn = stack.pop();
        try {
          await fn?.();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, "cleanup failed");
    },
  };
}
